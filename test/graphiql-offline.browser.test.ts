import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { useTestServer } from './harness/server.js';

describe.runIf(chromiumAvailable())('GraphiQL with no network beyond loopback', () => {
  let browser: Browser;

  const server = useTestServer({ DB_POOL_MIN: '1' });
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads every asset from poolpilot and runs a query', async () => {
    const context = await browser.newContext();
    const offLoopback: string[] = [];
    const failed: string[] = [];
    // Anything not addressed to this machine is refused, as on an isolated network.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1')
        return route.continue();
      offLoopback.push(url.href);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    page.on('requestfailed', (request) => failed.push(request.url()));
    await page.goto(`${server.pp.url}/graphql`);
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => (document.body.textContent ?? '').includes('"poolpilot"'), undefined, {
      timeout: 30_000,
    });
    mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: 'test/artifacts/graphiql.png' });
    expect(offLoopback).toEqual([]);
    expect(failed).toEqual([]);
    await context.close();
  });
});

import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

describe.runIf(chromiumAvailable())('GraphiQL with no network beyond loopback', () => {
  let db: TestDatabase;
  let pp: RunningPoolpilot;
  let browser: Browser;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    pp = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl), DB_POOL_MIN: '1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await pp?.close();
    await db?.drop();
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
    await page.goto(`${pp.url}/graphql`);
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

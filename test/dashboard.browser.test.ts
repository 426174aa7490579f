import { mkdirSync } from 'node:fs';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { useTestServer } from './harness/server.js';

const VIEWER = 'dashboard-viewer-token-42';
const CHARTS = ['utilization', 'waiting', 'cpu', 'states', 'queue'];

describe.runIf(chromiumAvailable())('the live dashboard in Chromium', () => {
  let browser: Browser;
  let idler: pg.Client;
  let load = true;
  let loader: Promise<void> | undefined;

  const server = useTestServer({
    DB_POOL_MIN: '2',
    API_TOKENS: `viewer:${VIEWER}`,
  });
  beforeAll(async () => {
    browser = await launchChromium();
    // Something to draw: a trickle of queries through the pool and a session idle in a transaction.
    loader = (async () => {
      const pool = server.pp.poolpilot.cluster.primary.pool;
      while (load)
        await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.15)').catch(() => undefined)));
    })();
    idler = new pg.Client({ connectionString: server.url, application_name: 'report-job' });
    await idler.connect();
    await idler.query('BEGIN');
  });
  afterAll(async () => {
    load = false;
    await loader;
    await idler?.end().catch(() => undefined);
    await browser?.close();
  });

  it('asks for a token, then draws every chart from live samples using only local files', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const offLoopback: string[] = [];
    const failed: string[] = [];
    const pageErrors: string[] = [];
    // Anything not addressed to this machine is refused, as on an isolated network.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.hostname === '127.0.0.1') return route.continue();
      offLoopback.push(url.href);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    page.on('requestfailed', (request) => failed.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await page.goto(`${server.pp.url}/dashboard`);
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 30_000 });
      await page.fill('#token', VIEWER);
      await page.click('#token-form button');

      await page.waitForFunction(
        (names) =>
          names.every(
            (name) =>
              Number(document.querySelector(`[data-chart="${name}"]`)?.getAttribute('data-samples') ?? 0) >=
              3,
          ),
        CHARTS,
        { timeout: 45_000, polling: 200 },
      );
      await page.waitForFunction(() => !document.body.textContent?.includes('waiting for data'), undefined, {
        timeout: 15_000,
      });
      mkdirSync('test/artifacts', { recursive: true });
      await page.screenshot({ path: 'test/artifacts/dashboard.png', fullPage: true });

      for (const name of CHARTS) {
        expect(await page.locator(`[data-chart="${name}"] canvas`).count(), name).toBeGreaterThan(0);
      }
      expect(await page.textContent('#status')).toBe('live');
      expect(await page.textContent('#states-figures')).toContain('oldest idle in xact');
      expect(await page.textContent('#cpu-source')).not.toBe('');
      expect(pageErrors).toEqual([]);
      expect(offLoopback).toEqual([]);
      expect(failed).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

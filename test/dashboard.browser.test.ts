import { mkdirSync } from 'node:fs';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../support/postgres-cluster.js';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');
const VIEWER = 'dashboard-viewer-token-42';
const CHARTS = ['utilization', 'waiting', 'cpu', 'states', 'queue'];
// A statement long enough to wrap over many lines, run often and slowly enough to count as slow.
const LONG_SQL = `SELECT pg_sleep(0.025) AS nap, ${Array.from({ length: 40 }, (_, i) => `${i} AS column_number_${i}`).join(', ')}`;

describe.runIf(chromiumAvailable())('the live dashboard in Chromium', () => {
  let browser: Browser;
  let idler: pg.Client;
  let reporter: pg.Client;
  let load = true;
  let loader: Promise<void> | undefined;

  const server = useTestServer(
    { DB_POOL_MIN: '2', API_TOKENS: `viewer:${VIEWER}` },
    {
      // The slow-queries panel reads pg_stat_statements.
      seed: ({ db }) =>
        run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(
          () => undefined,
        ),
    },
  );
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
    reporter = new pg.Client({ connectionString: server.url, application_name: 'report-job' });
    await reporter.connect();
    const slow = (async () => {
      for (let i = 0; i < 150 && load; i++) await reporter.query(LONG_SQL);
    })();
    loader = Promise.all([loader, slow]).then(() => undefined);
  });
  afterAll(async () => {
    load = false;
    await loader;
    await idler?.end().catch(() => undefined);
    await reporter?.end().catch(() => undefined);
    await browser?.close();
  });

  it('asks for a token, then draws every chart from live samples using only local files', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
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
      // The slow-queries panel lists slow statements only, long ones clamped to a few lines.
      await page.waitForFunction(
        () => document.querySelector('#slow-queries')?.textContent?.includes('column_number_'),
        undefined,
        {
          timeout: 45_000,
          polling: 500,
        },
      );
      mkdirSync('test/artifacts', { recursive: true });
      await page.screenshot({ path: 'test/artifacts/dashboard-1280.png', fullPage: true });

      const code = await page.$$eval('#slow-queries code', (els) =>
        els.map((e) => ({ text: e.textContent ?? '', shown: e.clientHeight, full: e.scrollHeight })),
      );
      const long = code.find((c) => c.text.includes('column_number_'))!;
      expect(long.shown).toBeLessThan(long.full);
      expect(long.shown).toBeLessThanOrEqual(60);
      expect(await page.textContent('#slow-note')).toMatch(/≥ \d+ calls, mean ≥ [\d.]+ ms/);
      // Legends show the newest sample without hovering, never uPlot's "--".
      const legend = await page.$$eval('.u-legend .u-value', (els) => els.map((e) => e.textContent));
      expect(legend.length).toBeGreaterThan(0);
      expect(legend).not.toContain('--');
      // Every chart names its unit on the y axis.
      expect(await page.evaluate(() => document.querySelectorAll('.u-axis').length)).toBeGreaterThanOrEqual(
        CHARTS.length * 2,
      );

      // At 420 px the cards stack and every chart fits the window.
      await page.setViewportSize({ width: 420, height: 900 });
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('.chart canvas')].every(
            (c) => c.getBoundingClientRect().right <= 420,
          ),
        undefined,
        { timeout: 10_000, polling: 200 },
      );
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
      await page.screenshot({ path: 'test/artifacts/dashboard-420.png', fullPage: true });

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

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { useTestServer } from './harness/server.js';

// Monaco draws spaces as no-break spaces.
const editorText = (page: Page) =>
  page.$eval('.graphiql-query-editor .view-lines', (el) => (el.textContent ?? '').replace(/\u00a0/g, ' '));

describe.runIf(chromiumAvailable())('GraphiQL opened from a shared link', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('starts with the ?query= of its URL, not the default query', async () => {
    const shared = 'query SharedLink { poolStats { total } }';
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.pp.url}/graphql?query=${encodeURIComponent(shared)}`);
      await page.waitForSelector('.graphiql-query-editor .view-lines', { timeout: 30_000 });
      await expect.poll(() => editorText(page), { timeout: 30_000 }).toContain(shared);
      expect(await editorText(page)).not.toContain('pool statistics, health and service info');
    } finally {
      await context.close();
    }
  });

  it('starts with the default query when the URL has none', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.pp.url}/graphql`);
      await page.waitForSelector('.graphiql-query-editor .view-lines', { timeout: 30_000 });
      await expect
        .poll(() => editorText(page), { timeout: 30_000 })
        .toContain('pool statistics, health and service info');
    } finally {
      await context.close();
    }
  });
});

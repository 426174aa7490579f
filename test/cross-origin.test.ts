import { request } from 'node:http';
import { createClient } from 'graphql-ws';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');
const EVIL = 'http://evil.example';
const ALLOWED = 'http://app.example:5173';

/** What a page on another site can send without a preflight, or with one. */
async function crossSite(url: string, init: { origin?: string; contentType: string; body: string }) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': init.contentType, ...(init.origin ? { origin: init.origin } : {}) },
    body: init.body,
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function tableExists(dbUrl: string, name: string): Promise<boolean> {
  const { rows } = await run(dbUrl, 'SELECT to_regclass($1) IS NOT NULL AS present', [name]);
  return rows[0].present;
}

/** Opens a WebSocket as a browser on `origin` would; resolves with the HTTP status when refused. */
function upgrade(wsUrl: string, origin: string): Promise<{ opened: boolean; status?: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { origin });
    socket.once('open', () => {
      socket.close();
      resolve({ opened: true });
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode });
      res.resume();
    });
    socket.once('error', reject);
  });
}

/** A request with a Host header of our choosing (fetch does not allow setting it). */
function withHost(url: string, host: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/graphql`,
      { method: 'POST', headers: { host, origin, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end(JSON.stringify({ query: '{ info { name } }' }));
  });
}

describe('cross-site requests (no tokens: every caller is admin on loopback)', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });
  const dbUrl = () => server.db.url(primaryUrl);
  const mutation = (table: string) =>
    JSON.stringify({ query: `mutation { executeQuery(sql: "CREATE TABLE ${table} ()") { rowCount } }` });

  it('refuses a JSON POST from a foreign origin and sends it no CORS headers', async () => {
    const res = await crossSite(server.pp.url, {
      origin: EVIL,
      contentType: 'application/json',
      body: mutation('pwned_json'),
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).errors[0].extensions.code).toBe('FORBIDDEN');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await tableExists(dbUrl(), 'pwned_json')).toBe(false);
  });

  it('answers no CORS preflight for a foreign origin', async () => {
    const res = await fetch(`${server.pp.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses form-encoded and text/plain bodies (the ones a page sends without a preflight)', async () => {
    const form = `query=${encodeURIComponent('mutation { executeQuery(sql: "CREATE TABLE pwned_form ()") { rowCount } }')}`;
    const foreign = await crossSite(server.pp.url, {
      origin: EVIL,
      contentType: 'application/x-www-form-urlencoded',
      body: form,
    });
    expect(foreign.status).toBe(403);
    // Without an Origin (a script, not a browser) the body type alone is refused.
    const bare = await crossSite(server.pp.url, {
      contentType: 'application/x-www-form-urlencoded',
      body: form,
    });
    expect(bare.status).toBe(415);
    expect(JSON.parse(bare.body).errors[0].extensions.code).toBe('BAD_REQUEST');
    const text = await crossSite(server.pp.url, { contentType: 'text/plain', body: mutation('pwned_text') });
    expect(text.status).toBe(415);
    expect(await tableExists(dbUrl(), 'pwned_form')).toBe(false);
    expect(await tableExists(dbUrl(), 'pwned_text')).toBe(false);
  });

  it('serves its own pages (same origin) as before', async () => {
    const res = await crossSite(server.pp.url, {
      origin: server.pp.url,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ query: '{ info { name } }' }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).data.info.name).toBe('poolpilot');
  });

  it('refuses a page behind a DNS name rebound to 127.0.0.1 (same origin by its own name)', async () => {
    const port = new URL(server.pp.url).port;
    expect(await withHost(server.pp.url, `rebound.example:${port}`, `http://rebound.example:${port}`)).toBe(
      403,
    );
    expect(await withHost(server.pp.url, `localhost:${port}`, `http://localhost:${port}`)).toBe(200);
  });

  it('refuses the WebSocket upgrade from a foreign origin before the handshake', async () => {
    expect(await upgrade(server.pp.wsUrl, EVIL)).toEqual({ opened: false, status: 403 });
    expect(await upgrade(server.pp.wsUrl, server.pp.url)).toEqual({ opened: true });

    // The attack itself, with a real graphql-ws client sending the foreign Origin.
    class EvilSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { origin: EVIL });
      }
    }
    const client = createClient({ url: server.pp.wsUrl, webSocketImpl: EvilSocket, retryAttempts: 0 });
    const outcome = await new Promise<string>((resolve) => {
      client.subscribe(
        { query: 'mutation { executeQuery(sql: "CREATE TABLE pwned_ws ()") { rowCount } }' },
        { next: () => resolve('next'), error: () => resolve('refused'), complete: () => resolve('complete') },
      );
    });
    await client.dispose();
    expect(outcome).toBe('refused');
    expect(await tableExists(dbUrl(), 'pwned_ws')).toBe(false);
  });
});

describe('CORS_ORIGINS', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', CORS_ORIGINS: `${ALLOWED}, https://ops.example` });

  it('gives a listed origin CORS with credentials, and nobody else', async () => {
    const preflight = await fetch(`${server.pp.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    const res = await crossSite(server.pp.url, {
      origin: ALLOWED,
      contentType: 'application/json',
      body: JSON.stringify({ query: '{ info { name } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(await upgrade(server.pp.wsUrl, ALLOWED)).toEqual({ opened: true });

    const evil = await crossSite(server.pp.url, {
      origin: EVIL,
      contentType: 'application/json',
      body: JSON.stringify({ query: '{ info { name } }' }),
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('is validated at start-up', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example/, http://b.example:8080' }).corsOrigins).toEqual([
      'https://a.example',
      'http://b.example:8080',
    ]);
    for (const bad of [
      '*',
      'https://*.example.com',
      'app.example',
      'https://a.example/path',
      'ftp://a.example',
    ]) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS entry .* is not accepted/);
    }
  });
});

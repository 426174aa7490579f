import SwaggerParser from '@apidevtools/swagger-parser';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { REST_ROUTES } from '../src/server/rest/routes.js';
import { run } from './harness/database.js';
import { useTestServer } from './harness/server.js';
import { createShop, GUIDE_QUERY } from './support/shop.js';

type Role = 'viewer' | 'operator' | 'admin';
const TOKENS: Record<Role, string> = {
  viewer: 'rest-viewer-token-0123456789',
  operator: 'rest-operator-token-0123456789',
  admin: 'rest-admin-token-0123456789abc',
};

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

describe('REST endpoints of the guide under /api', () => {
  const server = useTestServer(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      API_TOKENS: Object.entries(TOKENS)
        .map(([role, token]) => `${role}:${token}`)
        .join(','),
    },
    { prefix: 'pp_rest' },
  );
  const { primaryUrl } = inject('databases');
  beforeAll(async () => {
    await createShop(server.db.url(primaryUrl), null);
  }, 120_000);

  async function call(
    method: string,
    path: string,
    options: { role?: Role; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const { role, body, headers = {} } = options;
    const res = await fetch(`${server.pp.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...(role ? { authorization: `Bearer ${TOKENS[role]}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
  }

  const notes = async () =>
    (await run(server.db.url(primaryUrl), 'SELECT count(*)::int AS n FROM notes')).rows[0].n as number;

  describe('GET /api/pool/stats', () => {
    it('answers the pool figures to a viewer', async () => {
      const res = await call('GET', '/api/pool/stats', { role: 'viewer' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json).toMatchObject({
        total: expect.any(Number),
        idle: expect.any(Number),
        active: expect.any(Number),
        waiting: 0,
        min: 1,
        max: 4,
        utilization: expect.any(Number),
        status: 'OK',
        queue: { depth: 0, running: 0, capacity: expect.any(Number) },
        queryLatency: { p50Ms: expect.any(Number), p99Ms: expect.any(Number) },
      });
      expect(res.json.targets.map((t: { name: string }) => t.name)).toEqual(['primary']);
    });

    it('refuses a missing or wrong token with 401 UNAUTHENTICATED', async () => {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }];
      for (const headers of attempts) {
        const res = await call('GET', '/api/pool/stats', { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(res.json).toMatchObject({
          code: 'UNAUTHENTICATED',
          message: expect.stringContaining('token'),
        });
        expect(res.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      }
    });
  });

  describe('GET /info and /api/info', () => {
    it('answers the service information at both paths', async () => {
      for (const path of ['/info', '/api/info']) {
        const res = await call('GET', path, { role: 'viewer' });
        expect(res.status, path).toBe(200);
        expect(res.json).toMatchObject({
          name: 'poolpilot',
          version: expect.any(String),
          postgresVersion: expect.stringMatching(/^16/),
          authEnabled: true,
          embedded: false,
        });
        expect(JSON.stringify(res.json.config)).not.toContain(TOKENS.admin);
      }
      expect((await call('GET', '/info')).status).toBe(401);
    });
  });

  describe('POST /api/query/analyze', () => {
    it("answers the guide's example with HIGH/CRITICAL, a recommendation and the pool figures", async () => {
      const res = await call('POST', '/api/query/analyze', { role: 'viewer', body: { query: GUIDE_QUERY } });
      expect(res.status).toBe(200);
      expect(['HIGH', 'CRITICAL']).toContain(res.json.severity);
      expect(res.json.complexity).toBeGreaterThanOrEqual(50);
      expect(res.json.complexity).toBeLessThanOrEqual(100);
      expect(res.json.route).toBe('COMPLEX');
      expect(res.json.recommendation).toEqual(expect.any(String));
      expect(res.json.recommendation.length).toBeGreaterThan(10);
      expect(res.json.recommendations.length).toBeGreaterThan(0);
      expect(res.json.poolStats).toMatchObject({
        total: expect.any(Number),
        idle: expect.any(Number),
        utilization: expect.any(Number),
        max: 4,
      });
    });

    it('takes the schema name sql too, and refuses both at once or an unknown field', async () => {
      const bySql = await call('POST', '/api/query/analyze', { role: 'viewer', body: { sql: 'SELECT 1' } });
      expect(bySql.status).toBe(200);
      expect(bySql.json).toMatchObject({ severity: 'LOW', route: 'FAST', writes: false });

      const both = await call('POST', '/api/query/analyze', {
        role: 'viewer',
        body: { sql: 'SELECT 1', query: 'SELECT 2' },
      });
      expect(both.status).toBe(400);
      expect(both.json.code).toBe('BAD_USER_INPUT');

      const misspelt = await call('POST', '/api/query/analyze', {
        role: 'viewer',
        body: { qeury: 'SELECT 1' },
      });
      expect(misspelt.status).toBe(400);
      expect(misspelt.json).toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining('"query"'),
      });

      const none = await call('POST', '/api/query/analyze', { role: 'viewer', body: {} });
      expect(none.status).toBe(400);
      expect(none.json.code).toBe('BAD_USER_INPUT');
    });

    it('keeps the SQL size limit (MAX_SQL_BYTES) as GraphQL does', async () => {
      const sql = `SELECT '${'x'.repeat(server.pp.config.execute.maxSqlBytes)}'`;
      const res = await call('POST', '/api/query/analyze', { role: 'viewer', body: { query: sql } });
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('BAD_USER_INPUT');
      expect(res.json.message).toMatch(/MAX_SQL_BYTES/);
    });

    it('refuses a body larger than the stated cap with 413', async () => {
      const cap = 2 * server.pp.config.execute.maxSqlBytes + 65_536;
      const res = await call('POST', '/api/query/analyze', {
        role: 'viewer',
        body: { query: 'x'.repeat(cap) },
      });
      expect(res.status).toBe(413);
      expect(res.json.code).toBe('BAD_REQUEST');
    });
  });

  describe('POST /api/query/execute', () => {
    it('is refused to a viewer (403 FORBIDDEN) and runs nothing', async () => {
      const before = await notes();
      const res = await call('POST', '/api/query/execute', {
        role: 'viewer',
        body: { query: "INSERT INTO notes (body) VALUES ('viewer')" },
      });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('viewer') });
      expect(await notes()).toBe(before);
    });

    it('runs a parameterized statement for an operator, with the guide name query', async () => {
      const res = await call('POST', '/api/query/execute', {
        role: 'operator',
        body: { query: 'SELECT $1::int + 1 AS n, $2::text AS s', params: [41, 'x'] },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        rows: [{ n: 42, s: 'x' }],
        rowCount: 1,
        command: 'SELECT',
        route: 'FAST',
        target: 'primary',
        fields: [
          { name: 'n', dataTypeID: 23 },
          { name: 's', dataTypeID: 25 },
        ],
      });

      const write = await call('POST', '/api/query/execute', {
        role: 'operator',
        body: { sql: "INSERT INTO notes (body) VALUES ('operator') RETURNING id" },
      });
      expect(write.status).toBe(200);
      expect(write.json).toMatchObject({ rowCount: 1, command: 'INSERT', target: 'primary' });
    });

    it('answers bad SQL with 400 BAD_SQL and the SQLSTATE', async () => {
      const res = await call('POST', '/api/query/execute', {
        role: 'operator',
        body: { query: 'SELECT * FROM no_such_table' },
      });
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('BAD_SQL');
      expect(res.json.errors[0].extensions).toMatchObject({ code: 'BAD_SQL', sqlstate: '42P01' });
    });
  });

  describe('GET /api/slow-queries', () => {
    it('answers the slow-query list, with its query-string arguments', async () => {
      const res = await call('GET', '/api/slow-queries?limit=2&orderBy=CALLS&minCalls=1&minMeanMs=0', {
        role: 'viewer',
      });
      expect(res.status).toBe(200);
      expect(Array.isArray(res.json)).toBe(true);
      expect(res.json.length).toBeLessThanOrEqual(2);
      for (const q of res.json) {
        expect(q).toMatchObject({
          query: expect.any(String),
          calls: expect.any(Number),
          meanMs: expect.any(Number),
          totalMs: expect.any(Number),
        });
      }
    });

    it('refuses an unknown or malformed argument with 400 BAD_USER_INPUT', async () => {
      for (const search of ['?limt=5', '?limit=abc', '?orderBy=NOPE']) {
        const res = await call('GET', `/api/slow-queries${search}`, { role: 'viewer' });
        expect(res.status, search).toBe(400);
        expect(res.json.code, search).toBe('BAD_USER_INPUT');
      }
    });
  });

  describe('POST /api/pool/optimize and /api/pool/optimize/{id}', () => {
    it('lists the current suggestions, also for a bare curl -X POST', async () => {
      const res = await call('POST', '/api/pool/optimize', { role: 'viewer' });
      expect(res.status).toBe(200);
      expect(Array.isArray(res.json)).toBe(true);
      for (const o of res.json) {
        expect(o).toMatchObject({
          id: expect.any(String),
          kind: expect.any(String),
          title: expect.any(String),
          risk: expect.any(String),
          statements: expect.any(Array),
        });
      }
      const json = await call('POST', '/api/pool/optimize', { role: 'viewer', body: {} });
      expect(json.status).toBe(200);
    });

    it('does not apply through the listing route: an id there is an unknown field', async () => {
      const res = await call('POST', '/api/pool/optimize', { role: 'admin', body: { id: 'anything' } });
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('BAD_USER_INPUT');
    });

    it('applies only for an admin, by explicit id', async () => {
      const operator = await call('POST', '/api/pool/optimize/some-id', {
        role: 'operator',
        body: { dryRun: true },
      });
      expect(operator.status).toBe(403);
      expect(operator.json.code).toBe('FORBIDDEN');

      // Not read as false (which would apply for real): a body value must have the argument's type.
      for (const dryRun of ['yes', 1, 'true']) {
        const loose = await call('POST', '/api/pool/optimize/some-id', { role: 'admin', body: { dryRun } });
        expect(loose.status, String(dryRun)).toBe(400);
        expect(loose.json).toMatchObject({
          code: 'BAD_USER_INPUT',
          message: expect.stringContaining('dryRun'),
        });
      }
      const notText = await call('POST', '/api/query/analyze', { role: 'viewer', body: { query: 42 } });
      expect(notText.status).toBe(400);
      expect(notText.json.code).toBe('BAD_USER_INPUT');

      const unknown = await call('POST', '/api/pool/optimize/no-such-id', {
        role: 'admin',
        body: { dryRun: true },
      });
      expect(unknown.status).toBe(404);
      expect(unknown.json.code).toBe('OPTIMIZATION_NOT_FOUND');

      const list = await call('POST', '/api/pool/optimize', { role: 'admin' });
      const applicable = list.json.find((o: { applicable: boolean }) => o.applicable);
      if (applicable) {
        const dry = await call('POST', `/api/pool/optimize/${encodeURIComponent(applicable.id)}`, {
          role: 'admin',
          body: { dryRun: true },
        });
        expect(dry.status).toBe(200);
        expect(dry.json).toMatchObject({ id: applicable.id, dryRun: true, outcome: 'DRY_RUN' });
      }
    });
  });

  describe('cross-site requests', () => {
    const formBodies: [string, string][] = [
      ['application/x-www-form-urlencoded', "sql=INSERT+INTO+notes+(body)+VALUES+('form')"],
      ['text/plain', JSON.stringify({ query: "INSERT INTO notes (body) VALUES ('text')" })],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="sql"\r\n\r\nSELECT 1\r\n--x--\r\n',
      ],
    ];

    it('refuses a cross-origin form POST, and runs nothing', async () => {
      const before = await notes();
      for (const [contentType, body] of formBodies) {
        const res = await call('POST', '/api/query/execute', {
          role: 'admin',
          body,
          headers: { 'content-type': contentType, origin: 'http://evil.example' },
        });
        expect(res.status, contentType).toBe(403);
        expect(res.json.code).toBe('FORBIDDEN');
      }
      const json = await call('POST', '/api/query/execute', {
        role: 'admin',
        body: { query: "INSERT INTO notes (body) VALUES ('cross-origin json')" },
        headers: { origin: 'http://evil.example' },
      });
      expect(json.status).toBe(403);
      const apply = await call('POST', '/api/pool/optimize/some-id', {
        role: 'admin',
        headers: { origin: 'null' },
      });
      expect(apply.status).toBe(403);
      expect(await notes()).toBe(before);
    });

    it('refuses a form-encoded or text/plain POST whatever its origin (415 BAD_REQUEST)', async () => {
      const before = await notes();
      for (const [contentType, body] of formBodies) {
        const res = await call('POST', '/api/query/execute', {
          role: 'admin',
          body,
          headers: { 'content-type': contentType },
        });
        expect(res.status, contentType).toBe(415);
        expect(res.json.code).toBe('BAD_REQUEST');
      }
      expect(await notes()).toBe(before);
    });

    it("lets a page of the service's own host call, and no other", async () => {
      const own = new URL(server.pp.url);
      // https: the page as a TLS-terminating proxy in front serves it.
      for (const origin of [server.pp.url, `https://${own.host}`]) {
        const res = await call('POST', '/api/query/analyze', {
          role: 'viewer',
          body: { query: 'SELECT 1' },
          headers: { origin },
        });
        expect(res.status, origin).toBe(200);
      }
      for (const origin of [`http://${own.hostname}:1`, 'http://localhost.evil.example', 'null']) {
        const res = await call('GET', '/api/pool/stats', { role: 'viewer', headers: { origin } });
        expect(res.status, origin).toBe(403);
        expect(res.json.code).toBe('FORBIDDEN');
      }
    });
  });

  describe('routes and methods', () => {
    it('answers an unknown route with 404 and a wrong method with 405', async () => {
      const unknown = await call('GET', '/api/nope', { role: 'viewer' });
      expect(unknown.status).toBe(404);
      expect(unknown.json.code).toBe('BAD_REQUEST');
      for (const path of ['/api/webhook', '/api/resize-pool', '/api/execute-transaction']) {
        expect((await call('POST', path, { role: 'admin', body: {} })).status, path).toBe(404);
      }

      const wrong = await call('GET', '/api/query/analyze', { role: 'viewer' });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toBe('POST');
      expect(wrong.json.code).toBe('BAD_REQUEST');
    });

    it('refuses malformed JSON and a query string on a POST', async () => {
      const malformed = await call('POST', '/api/query/analyze', {
        role: 'viewer',
        body: '{"query": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.json.code).toBe('BAD_REQUEST');
      const notObject = await call('POST', '/api/query/analyze', { role: 'viewer', body: ['SELECT 1'] });
      expect(notObject.status).toBe(400);
      const search = await call('POST', '/api/query/analyze?sql=SELECT+1', { role: 'viewer', body: {} });
      expect(search.status).toBe(400);
      expect(search.json.code).toBe('BAD_REQUEST');
    });
  });

  describe('GET /api/openapi.json', () => {
    it('is a valid OpenAPI 3 document listing every route, and only those', async () => {
      const res = await call('GET', '/api/openapi.json');
      expect(res.status).toBe(200);
      const document = (await SwaggerParser.validate(structuredClone(res.json))) as any;
      expect(document.openapi).toMatch(/^3\./);
      expect(document.servers).toEqual([{ url: '/api' }]);
      expect(document.components.securitySchemes.bearerAuth).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });

      const listed = Object.entries(res.json.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );
      const expected = REST_ROUTES.map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, '{$1}')}`);
      expect(listed.sort()).toEqual(expected.sort());
      expect(expected).toEqual(
        expect.arrayContaining([
          'GET /info',
          'POST /query/analyze',
          'GET /pool/stats',
          'POST /pool/optimize',
          'POST /pool/optimize/{id}',
          'POST /query/execute',
          'GET /slow-queries',
        ]),
      );

      const analyze = res.json.paths['/query/analyze'].post;
      const body = analyze.requestBody.content['application/json'].schema;
      expect(Object.keys(body.properties).sort()).toEqual(['query', 'sql']);
      const ok = analyze.responses['200'].content['application/json'].schema;
      const resolved = ok.$ref ? res.json.components.schemas[ok.$ref.split('/').pop()] : ok;
      expect(Object.keys(resolved.properties)).toEqual(
        expect.arrayContaining(['complexity', 'severity', 'recommendation', 'poolStats']),
      );
      expect(analyze.responses.default.content['application/json'].schema.$ref).toBe(
        '#/components/schemas/RestError',
      );
      const slow = res.json.paths['/slow-queries'].get;
      expect(slow.parameters.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(['limit', 'orderBy', 'minCalls', 'minMeanMs']),
      );
      expect(res.json.paths['/pool/optimize/{id}'].post.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true })]),
      );
    });
  });
});

import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { coreSettings, databaseTargets, loadConfig } from '../src/config/index.js';
import { Poolpilot } from '../src/core/index.js';
import { type App, createApp } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';

const { primaryUrl } = inject('databases');
const OPERATOR = 'operator-token-0123456789';
const SECRET = 'secret-param-value-4711';

/**
 * A caller's mistakes are theirs, not the service's: they used to be logged at error level with
 * PostgreSQL's message, which quotes parameter values.
 */
describe('logs of client mistakes', () => {
  let db: TestDatabase;
  let poolpilot: Poolpilot;
  let app: App;
  let url: string;
  let text = '';
  const lines = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, any>);

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    const log = createLogger('info', {
      pretty: false,
      destination: new Writable({
        write(chunk, _enc, done) {
          text += chunk;
          done();
        },
      }),
    });
    const config = loadConfig({
      DATABASE_URL: db.url(primaryUrl),
      ADMIN_DATABASE_URL: db.adminUrl(primaryUrl),
      API_TOKENS: `operator:${OPERATOR}`,
      DB_POOL_MIN: '1',
      PORT: '0',
    });
    const targets = databaseTargets(config);
    poolpilot = new Poolpilot({
      ...coreSettings(config),
      primary: targets.primary!,
      replicas: targets.replicas,
      embedded: false,
      log,
    });
    app = createApp(poolpilot, config, log);
    await poolpilot.start();
    url = `http://127.0.0.1:${(await app.listen(0, '127.0.0.1')).port}/graphql`;
  });
  afterAll(async () => {
    await app?.close();
    await poolpilot?.close(0);
    await db?.drop();
  });

  const post = async (query: string, variables: Record<string, unknown>, token?: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { errors?: { extensions: { code: string } }[] };
  };

  it('logs UNAUTHENTICATED, BAD_SQL and BAD_USER_INPUT at info/warn, without values', async () => {
    text = '';
    const execute =
      'mutation($sql: String!, $p: [JSON]) { executeQuery(sql: $sql, params: $p) { rowCount } }';
    const codes = [
      (await post('{ info { name } }', {})).errors?.[0]?.extensions.code,
      (await post(execute, { sql: 'SELECT $1::int', p: [SECRET] }, OPERATOR)).errors?.[0]?.extensions.code,
      (await post(execute, { sql: 'SELECT $1::text', p: [`${SECRET}\u0000`] }, OPERATOR)).errors?.[0]
        ?.extensions.code,
    ];
    expect(codes).toEqual(['UNAUTHENTICATED', 'BAD_SQL', 'BAD_USER_INPUT']);
    const logged = lines().filter((l) => l.code);
    expect(logged.map((l) => [l.code, l.level])).toEqual([
      ['UNAUTHENTICATED', 30],
      ['BAD_SQL', 40],
      ['BAD_USER_INPUT', 40],
    ]);
    expect(logged[1]).toMatchObject({ path: 'executeQuery', sqlstate: '22P02' });
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
    expect(text).not.toContain(SECRET);
  });
});

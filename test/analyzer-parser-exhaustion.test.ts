import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_PARSE_DEPTH } from '../src/core/analyzer/index.js';
import { isNotJudged, loadParser, parserState, parseStatement } from '../src/core/analyzer/parser.js';
import { estimatedDepth } from '../src/core/analyzer/parser-bounds.js';
import { isPoolpilotError } from '../src/core/errors.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

// Each of these overflowed libpg_query's WebAssembly stack (a few dozen broke the module for good).
const HOSTILE: ((n: number) => string)[] = [
  (n) =>
    `SELECT ${Array(n + 1)
      .fill('1')
      .join('+')}`,
  (n) =>
    `SELECT ${Array(n + 1)
      .fill("'a'")
      .join(' || ')}`,
  (n) => `SELECT 1${'::int'.repeat(n)}`,
  (n) => `SELECT ${'(SELECT '.repeat(n)}1${')'.repeat(n)}`,
  (n) => `SELECT x${"->'a'".repeat(n)}`,
  (n) => `SELECT ${'NOT '.repeat(n)}true`,
  (n) =>
    Array(n + 1)
      .fill('SELECT 1')
      .join(' UNION '),
  (n) => `SELECT 1 ${'BETWEEN 1 AND 1 '.repeat(n)}`,
];

describe('parser exhaustion', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'pp_parse');
    pp = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl), DB_POOL_MIN: '1', DB_POOL_SIZE: '3' });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('estimates the depth of every hostile shape above the limit, and of ordinary SQL far below', () => {
    for (const make of HOSTILE) expect(estimatedDepth(make(20_000))).toBeGreaterThan(MAX_PARSE_DEPTH);
    // Lists and AND/OR chains are flat in the tree: long ones stay well under the limit.
    expect(estimatedDepth(`SELECT 1 WHERE ${Array(5_000).fill('a = 1').join(' OR ')}`)).toBeLessThan(10);
    expect(
      estimatedDepth(`INSERT INTO t VALUES ${Array(5_000).fill("(1, 'a+b', -2)").join(', ')}`),
    ).toBeLessThan(10);
    // What hides in strings, quoted names, dollar quotes and comments is not code.
    const hidden = '+'.repeat(5_000);
    expect(
      estimatedDepth(
        `SELECT '${hidden}', E'\\'${hidden}', "${hidden}", $q$${hidden}$q$ /* ${hidden} */ -- ${hidden}`,
      ),
    ).toBeLessThan(10);
  });

  it('keeps BEGIN refused and ordinary statements judged after dozens of hostile statements', async () => {
    const before = pp.poolpilot.analyzer.state().resets;
    for (let i = 0; i < 64; i++) {
      const sql = HOSTILE[i % HOSTILE.length]!(20_000 + i);
      const viewer = await pp.gql<{
        analyzeQuery: { judged: boolean; writes: boolean; writeStatus: string; note: string };
      }>('mutation($sql: String!) { analyzeQuery(sql: $sql) { judged writes writeStatus note } }', { sql });
      expect(viewer.errors).toBeUndefined();
      // Unknown is never "reads": `writes` (kept non-null for older clients) says true.
      expect(viewer.data!.analyzeQuery).toMatchObject({
        judged: false,
        writes: true,
        writeStatus: 'UNKNOWN',
      });
      expect(viewer.data!.analyzeQuery.note).toMatch(/could not be judged: .*nests more than 1000 levels/);
      const operator = await pp.gql('mutation($sql: String!) { executeQuery(sql: $sql) { rowCount } }', {
        sql,
      });
      expect(operator.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect(pp.poolpilot.analyzer.state().resets).toBe(before); // the bound kept them from the parser

    const begin = await pp.gql('mutation { executeQuery(sql: "BEGIN") { rowCount } }');
    expect(begin.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(begin.errors?.[0]?.message).toMatch(/transaction/);
    const select = await pp.poolpilot.analyzer.analyze('SELECT 1 + 2');
    expect(select).toMatchObject({ judged: true, writes: false, parseError: null, statementCount: 1 });
    const run = await pp.gql<{ executeQuery: { rows: unknown[] } }>(
      'mutation { executeQuery(sql: "SELECT 40 + 2 AS n") { rows } }',
    );
    expect(run.data?.executeQuery.rows).toEqual([{ n: 42 }]);
  });

  it('replaces the parser instance after an internal failure and reports it in /health', async () => {
    await loadParser();
    const before = parserState().resets;
    // Past the bound on purpose: straight into the parser, which overflows its stack.
    for (let i = 0; i < 40; i++) {
      const crashed = parseStatement(
        `SELECT ${Array(10_000 + i)
          .fill('1')
          .join('+')}`,
        Number.POSITIVE_INFINITY,
      );
      expect(isNotJudged(crashed) && crashed.notJudged).toMatch(/parser failed on the statement/);
      await loadParser();
    }
    expect(parserState().resets).toBe(before + 40);
    // A fresh instance: ordinary statements parse, transaction control is still seen.
    const analysis = await pp.poolpilot.analyzer.analyze('BEGIN');
    expect(analysis).toMatchObject({ judged: true, transactionControl: true });
    await expect(pp.poolpilot.execute('BEGIN')).rejects.toSatisfy(
      (e) => isPoolpilotError(e) && e.code === 'BAD_USER_INPUT',
    );

    const health = (await (await fetch(`${pp.url}/health`)).json()) as Record<string, any>;
    expect(health.status).toBe('degraded');
    expect(health.analyzer).toMatchObject({ status: 'degraded', resets: before + 40 });
    expect(health.analyzer.reason).toMatch(/restarted/);
    const gql = await pp.gql<{ health: { status: string; analyzer: { status: string; resets: number } } }>(
      '{ health { status analyzer { status resets reason } } }',
    );
    expect(gql.data?.health).toMatchObject({
      status: 'DEGRADED',
      analyzer: { status: 'DEGRADED', resets: before + 40 },
    });
  });
});

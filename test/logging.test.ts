import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logOptimizations, logSlowStatements, statementForLog } from '../src/server/logger.js';
import { eventually } from './harness/database.js';
import { useTestCore } from './harness/server.js';

/** A log destination that keeps what was written; `isTTY` says what it pretends to be. */
function capture(isTTY = false) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        text += chunk;
        done();
      },
    }),
    { isTTY },
  );
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

describe('structured logs', () => {
  it('writes JSON lines to a pipe and readable lines to a terminal, at LOG_LEVEL', () => {
    const pipe = capture(false);
    const log = createLogger('info', { destination: pipe.stream });
    log.debug({ hidden: true }, 'below the level');
    log.info({ target: 'primary' }, 'target primary is up');
    const lines = pipe.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      name: 'poolpilot',
      target: 'primary',
      msg: 'target primary is up',
    });

    const tty = capture(true);
    createLogger('debug', { destination: tty.stream }).debug({ target: 'replica-1' }, 'checking');
    expect(tty.text()).toMatch(/DEBUG/);
    expect(tty.text()).toContain('checking');
    expect(() => JSON.parse(tty.text())).toThrow();
  });

  it('censors passwords, connection strings, tokens and Authorization headers wherever they are', () => {
    const out = capture();
    const log = createLogger('info', { destination: out.stream });
    log.info(
      {
        connectionString: 'postgres://app:s3cret-pw@db/app',
        target: { password: 's3cret-pw', connectionString: 'postgres://app:s3cret-pw@db/app' },
        req: { headers: { authorization: 'Bearer tok-abcdefghijklmnop' } },
        spec: { connection: { password: 's3cret-pw' } },
        token: 'tok-abcdefghijklmnop',
      },
      'values that must not appear',
    );
    expect(out.text()).not.toContain('s3cret-pw');
    expect(out.text()).not.toContain('tok-abcdefghijklmnop');
    expect(out.lines()[0]!.connectionString).toBe('****');
  });

  it('blanks literals in logged statements', () => {
    expect(statementForLog("ALTER ROLE app PASSWORD 'hunter2'")).toBe("ALTER ROLE app PASSWORD '?'");
    expect(statementForLog('SELECT *\n  FROM t1 WHERE id = $1 AND n > 42')).toBe(
      'SELECT * FROM t1 WHERE id = $1 AND n > ?',
    );
    expect(statementForLog("DO $body$ BEGIN PERFORM 'x'; END $body$")).toBe('DO $?$');
    expect(statementForLog('SELECT 1', 5)).toHaveLength(5);
  });

  describe('slow statements', () => {
    const server = useTestCore({ DB_POOL_MIN: '1', DB_POOL_SIZE: '2' });

    it('logs statements over the threshold with their route, target, duration and blanked text', async () => {
      const out = capture();
      const stop = logSlowStatements(
        server.poolpilot,
        createLogger('info', { destination: out.stream }),
        100,
      );
      try {
        const slowOne = await server.poolpilot.execute("SELECT pg_sleep(0.15), 'secret-literal'");
        await server.poolpilot.execute('SELECT 1');
        await eventually(() => out.lines().length >= 1);
        const lines = out.lines();
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({
          level: 40,
          component: 'slow-statement',
          route: slowOne.route,
          target: slowOne.target,
          queued: false,
          rowCount: 1,
          thresholdMs: 100,
          statement: "SELECT pg_sleep(?), '?'",
        });
        expect(lines[0]!.durationMs).toBeGreaterThanOrEqual(150);
        expect(out.text()).not.toContain('secret-literal');
      } finally {
        stop();
      }
      await server.poolpilot.execute('SELECT pg_sleep(0.15)');
      expect(out.lines()).toHaveLength(1);
    });
  });

  describe('optimizations', () => {
    const server = useTestCore({ DB_POOL_MIN: '1' });

    it('logs each optimization applied, with who asked, but not dry runs', async () => {
      const out = capture();
      const stop = logOptimizations(server.poolpilot, createLogger('info', { destination: out.stream }));
      try {
        const target = (await server.poolpilot.optimizer.list()).find(
          (o) => o.kind === 'ENABLE_PG_STAT_STATEMENTS',
        )!;
        await server.poolpilot.optimizer.apply(target.id, { dryRun: true, actor: 'admin' });
        expect(out.text()).toBe('');
        await server.poolpilot.optimizer.apply(target.id, { dryRun: false, actor: 'admin' });
        expect(out.lines()).toEqual([
          expect.objectContaining({
            level: 30,
            component: 'optimizer',
            id: target.id,
            kind: 'ENABLE_PG_STAT_STATEMENTS',
            outcome: 'APPLIED',
            actor: 'admin',
            executed: 1,
          }),
        ]);
      } finally {
        stop();
      }
    });
  });
});

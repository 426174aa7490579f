import pg from 'pg';
import { ADMIN_APPLICATION_NAME, OWN_APPLICATIONS } from '../application-name.js';
import type { Cluster } from '../pool/index.js';
import { explain } from './plan.js';
import {
  INDEX_STATE,
  RELOAD,
  SESSION_EXISTS,
  SETTING_VALUE,
  TABLE_ANALYZE_STATE,
  TERMINATE_SESSION,
} from './sql.js';
import { alterSystemSql } from './suggest-server.js';
import { type Optimization, quoteIdent } from './types.js';

export interface Effect {
  ok: boolean;
  /** Statements (or actions) that completed, in order. */
  executed: string[];
  before: unknown;
  after: unknown;
  /** What happened, in words, including anything left behind. */
  message: string;
  error: string | null;
}

/** Runs one optimization's action against the live system and reports before/after. */
export async function execute(o: Optimization, cluster: Cluster): Promise<Effect> {
  // The writer of the moment: after a failover, the promoted server (a split brain refuses).
  const pool = cluster.writer().admin;
  const action = o.action;
  switch (action.type) {
    case 'pool-resize': {
      const before = sizes(cluster);
      cluster.resize(action.min, action.max);
      return {
        ok: true,
        executed: [`resize pools to min ${action.min}, max ${action.max}`],
        before,
        after: sizes(cluster),
        message: `Every pool now has min ${action.min}, max ${action.max}; set DB_POOL_SIZE=${action.max} to keep it after a restart.`,
        error: null,
      };
    }
    case 'alter-system': {
      const before = (await pool.query(SETTING_VALUE, [action.setting])).rows[0] ?? null;
      const executed: string[] = [];
      const alter = alterSystemSql(action.setting, action.value);
      try {
        await pool.query(alter);
      } catch (error) {
        return fail(executed, before, error, `${alter} failed; nothing was changed.`);
      }
      executed.push(alter);
      try {
        await pool.query(RELOAD);
        executed.push(RELOAD);
      } catch (error) {
        return fail(
          executed,
          before,
          error,
          `${alter} succeeded (postgresql.auto.conf is written) but the reload failed: the value takes effect at the next reload or restart.`,
        );
      }
      const after = await settledSetting(pool, action.setting, before);
      return {
        ok: true,
        executed,
        before,
        after,
        message: after?.pending_restart
          ? `${action.setting} is set to ${action.value} in postgresql.auto.conf and is pending a restart; poolpilot does not restart PostgreSQL.`
          : `${action.setting} is now ${after?.setting}${after?.unit ?? ''} in pg_settings.`,
        error: null,
      };
    }
    case 'sql': {
      const table = action.analyzes;
      const probe = async () =>
        table ? ((await pool.query(TABLE_ANALYZE_STATE, [table.schema, table.table])).rows[0] ?? null) : null;
      const before = await probe();
      const executed: string[] = [];
      for (const statement of action.statements) {
        try {
          await pool.query(statement);
          executed.push(statement);
        } catch (error) {
          const done = executed.length ? `completed: ${executed.join('; ')}` : 'nothing was changed';
          return fail(executed, before, error, `${statement} failed; ${done}.`);
        }
      }
      return {
        ok: true,
        executed,
        before,
        after: await probe(),
        message: `Ran ${executed.join('; ')}.`,
        error: null,
      };
    }
    case 'create-index':
      return createIndex(o, action, cluster);
    case 'terminate': {
      const apps = [...OWN_APPLICATIONS];
      const before = (await pool.query(SESSION_EXISTS, [action.pid, action.backendStart])).rows[0] ?? null;
      const { rows } = await pool.query(TERMINATE_SESSION, [action.pid, action.backendStart, apps]);
      if (!rows[0]?.terminated) {
        return fail(
          [],
          before,
          new Error('session is gone or no longer idle in a transaction'),
          `Session ${action.pid} was not terminated: it is gone or no longer idle in a transaction.`,
        );
      }
      const gone = await poll(
        async () => (await pool.query(SESSION_EXISTS, [action.pid, action.backendStart])).rowCount === 0,
      );
      return {
        ok: true,
        executed: [`SELECT pg_terminate_backend(${action.pid})`],
        before,
        after: { terminated: true, gone },
        message: `Session ${action.pid} was terminated; its transaction was rolled back.`,
        error: null,
      };
    }
    case 'advice':
    case 'artifact':
      return {
        ok: true,
        executed: [],
        before: null,
        after: null,
        message: 'Advice only; nothing was applied.',
        error: null,
      };
  }
}

async function createIndex(
  o: Optimization,
  action: Extract<Optimization['action'], { type: 'create-index' }>,
  cluster: Cluster,
): Promise<Effect> {
  const writer = cluster.writer();
  const pool = writer.admin;
  const before = await explain(pool, action.query);
  const statement = o.statements[0]!;
  // CONCURRENTLY cannot run in a transaction, and a build may outlast the pool's statement_timeout:
  // a dedicated session without one.
  const client = new pg.Client({
    ...writer.spec.admin,
    application_name: ADMIN_APPLICATION_NAME,
    statement_timeout: 0,
  });
  try {
    await client.connect();
    await client.query(statement);
  } catch (error) {
    const left = await pool.query(INDEX_STATE, [action.schema, action.index]).catch(() => null);
    if (left?.rows[0] && !left.rows[0].valid) {
      const drop = `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(action.schema)}.${quoteIdent(action.index)}`;
      try {
        await client.query(drop);
        return fail(
          [drop],
          before,
          error,
          `${statement} failed; the INVALID index it left was dropped (${drop}), so nothing remains.`,
        );
      } catch (dropError) {
        return fail(
          [],
          before,
          error,
          `${statement} failed and left an INVALID index ${action.index}; dropping it failed too (${(dropError as Error).message}). Run: ${drop}`,
        );
      }
    }
    return fail([], before, error, `${statement} failed; no index was created.`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const after = await explain(pool, action.query);
  const used = after?.indexesUsed.includes(action.index) ?? false;
  return {
    ok: true,
    executed: [statement],
    before,
    after,
    message:
      `Index ${action.index} is built and valid. Plan cost ${before?.totalCost ?? '?'} → ${after?.totalCost ?? '?'}` +
      (used
        ? `; the plan now uses ${action.index}.`
        : '; the planner does not choose it for the generic plan yet.'),
    error: null,
  };
}

function sizes(cluster: Cluster) {
  return cluster.targets.map((t) => ({ target: t.name, min: t.pool.options.min, max: t.pool.options.max }));
}

function fail(executed: string[], before: unknown, error: unknown, message: string): Effect {
  return {
    ok: false,
    executed,
    before,
    after: null,
    message,
    error: (error as Error).message ?? String(error),
  };
}

/** A reload reaches backends asynchronously: read pg_settings until it shows the change (a few seconds at most). */
async function settledSetting(
  pool: Cluster['primary']['pool'],
  name: string,
  before: Record<string, unknown> | null,
) {
  let row: Record<string, unknown> | null = null;
  await poll(async () => {
    row = (await pool.query(SETTING_VALUE, [name])).rows[0] ?? null;
    return row !== null && (row.setting !== before?.setting || row.pending_restart === true);
  });
  return row as Record<string, unknown> | null;
}

async function poll(probe: () => Promise<boolean>, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

import pg from 'pg';
import type { Poolpilot } from '../src/core/index.js';
import type { Session } from '../src/core/session/index.js';

/**
 * The mixed workload of read-your-writes under writes, shared by `npm run bench:mixed` (timed, reported) and
 * test/mixed-consistency.test.ts (short, asserted): one session writes table `w` at a steady
 * rate and reads back what it wrote; other sessions read `w` and the unrelated table `r` with
 * medium-complexity queries. Every read says where it ran (pg_is_in_recovery()), and every read
 * of the writer is checked against the values it has been acknowledged.
 */

export const W_ROWS = 200;
const GROUPS = 20;
export const R_ROWS = 20_000;

export const SEED_SQL = `
DROP TABLE IF EXISTS w, r;
CREATE TABLE w (id int PRIMARY KEY, grp int NOT NULL, v bigint NOT NULL, note text);
INSERT INTO w SELECT g, g % ${GROUPS}, 0, md5(g::text) FROM generate_series(1, ${W_ROWS}) g;
CREATE INDEX ON w (grp);
CREATE TABLE r (id int PRIMARY KEY, grp int NOT NULL, val numeric NOT NULL, label text);
INSERT INTO r SELECT g, g % 500, (g * 7919) % 1000, md5(g::text) FROM generate_series(1, ${R_ROWS}) g;
CREATE INDEX ON r (grp);
ANALYZE w; ANALYZE r;`;

/** One group of `w`: what other sessions and the writer read back (aggregate + window: medium). */
export const READ_W = `SELECT id, v, grp, count(*) OVER () AS members, max(v) OVER () AS top,
       pg_is_in_recovery() AS standby
  FROM w WHERE grp = $1 ORDER BY id`;
/** A slice of `r`, aggregated: written by no one. */
export const READ_R = `SELECT grp, count(*) AS n, avg(val) AS mean, max(label) AS last_label,
       bool_and(pg_is_in_recovery()) AS standby
  FROM r WHERE grp BETWEEN $1 AND $1 + 4 GROUP BY grp ORDER BY grp`;
export const WRITE_W = 'UPDATE w SET v = $2 WHERE id = $1';

export interface MixedOptions {
  seconds: number;
  writesPerSecond: number;
  readers: number;
  /** Pause between one reader's reads, ms (keeps a shared machine from saturating). */
  readerPauseMs: number;
}

export interface TableShare {
  reads: number;
  onReplica: number;
}

export interface MixedReport {
  seconds: number;
  writes: number;
  /** The writer's reads of `w`, each checked against what it was acknowledged. */
  writerReads: number;
  writerReadsOnReplica: number;
  /** Rows the writer read older than its own acknowledged write: must be 0. */
  violations: number;
  /** Other sessions' reads. */
  r: TableShare;
  w: TableShare;
  errors: number;
  firstError: string | null;
}

/** Runs one statement of a session or a wire client and gives back its rows. */
type Run = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

interface Actors {
  writer: Run;
  readers: Run[];
  close(): Promise<void>;
}

/** The workload through the core's session API: the writer and each reader are sessions of their own name. */
export function coreActors(poolpilot: Poolpilot, readers: number): Actors {
  const wrap =
    (session: Session): Run =>
    async (sql, params) =>
      (await session.execute(sql, params)).rows;
  return {
    writer: wrap(poolpilot.session('mixed-writer')),
    readers: Array.from({ length: readers }, (_, i) => wrap(poolpilot.session(`mixed-reader-${i}`))),
    close: async () => undefined,
  };
}

/** The workload through the wire front: one pg client (one wire session) per actor. */
export async function wireActors(connection: pg.ClientConfig, readers: number): Promise<Actors> {
  const clients: pg.Client[] = [];
  const open = async (): Promise<Run> => {
    const client = new pg.Client(connection);
    client.on('error', () => {});
    clients.push(client);
    await client.connect();
    return async (sql, params) => (await client.query(sql, params)).rows;
  };
  try {
    const writer = await open();
    const all: Run[] = [];
    for (let i = 0; i < readers; i++) all.push(await open());
    return {
      writer,
      readers: all,
      close: () => Promise.all(clients.map((c) => c.end())).then(() => undefined),
    };
  } catch (error) {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    throw error;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runMixed(actors: Actors, options: MixedOptions): Promise<MixedReport> {
  const report: MixedReport = {
    seconds: options.seconds,
    writes: 0,
    writerReads: 0,
    writerReadsOnReplica: 0,
    violations: 0,
    r: { reads: 0, onReplica: 0 },
    w: { reads: 0, onReplica: 0 },
    errors: 0,
    firstError: null,
  };
  const fail = (error: unknown) => {
    report.errors += 1;
    report.firstError ??= (error as Error).message;
  };
  const end = performance.now() + options.seconds * 1000;
  const acked = new Map<number, bigint>();
  let seq = BigInt(Date.now()) * 1000n; // above anything an earlier run left in w

  const writer = async () => {
    const period = 1000 / options.writesPerSecond;
    let next = performance.now();
    let i = 0;
    while (performance.now() < end) {
      const id = (i++ % W_ROWS) + 1;
      seq += 1n;
      try {
        await actors.writer(WRITE_W, [id, seq.toString()]);
        acked.set(id, seq);
        report.writes += 1;
        // Read back the group just written: every acknowledged value in it must be there.
        const rows = await actors.writer(READ_W, [id % GROUPS]);
        report.writerReads += 1;
        if (rows[0]?.standby === true) report.writerReadsOnReplica += 1;
        for (const row of rows) {
          const want = acked.get(Number(row.id));
          if (want !== undefined && BigInt(row.v as string) < want) report.violations += 1;
        }
      } catch (error) {
        fail(error);
      }
      next += period;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now();
    }
  };

  const reader = async (run: Run, n: number) => {
    let i = n;
    while (performance.now() < end) {
      const table = i % 2 === 0 ? 'w' : 'r';
      try {
        const rows = table === 'w' ? await run(READ_W, [i % GROUPS]) : await run(READ_R, [(i * 37) % 495]);
        const share = report[table];
        share.reads += 1;
        if (rows[0]?.standby === true) share.onReplica += 1;
      } catch (error) {
        fail(error);
      }
      i += 1;
      if (options.readerPauseMs > 0) await sleep(options.readerPauseMs);
    }
  };

  await Promise.all([writer(), ...actors.readers.map((run, n) => reader(run, n))]);
  return report;
}

export const share = (s: TableShare): number => (s.reads === 0 ? 0 : s.onReplica / s.reads);

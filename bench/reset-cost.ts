/**
 * What bringing a pooled connection back to its state at login costs, per check-in: PostgreSQL's
 * `DISCARD ALL` against the hand-made sequence `RESET ALL; UNLISTEN *; SELECT
 * pg_advisory_unlock_all(); DISCARD TEMP; DEALLOCATE ALL`, on a clean connection and on one a
 * caller left settings and a temporary table on, beside a bare `SELECT 1` round trip.
 * `npm run bench:reset` (add `--iterations N`); prints a table, asserts nothing.
 */
import { ServerConnection } from '../src/core/pool/server-connection.js';
import { startEmbeddedCluster } from '../support/postgres-cluster.js';

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1]) || 2_000;

const RESETS: Record<string, string> = {
  'SELECT 1 (a round trip, for scale)': 'SELECT 1',
  'DISCARD ALL': 'DISCARD ALL',
  'RESET ALL + UNLISTEN * + pg_advisory_unlock_all() + DISCARD TEMP + DEALLOCATE ALL':
    'RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DEALLOCATE ALL',
};
const DIRTY =
  "SET TimeZone = 'Asia/Tokyo'; SET search_path = pg_catalog, public; CREATE TEMP TABLE t (x int)";

async function main(): Promise<void> {
  const cluster = await startEmbeddedCluster();
  const connection = new ServerConnection({
    connectionString: cluster.primaryUrl,
    applicationName: 'poolpilot-bench',
    statementTimeoutMs: 0,
    connectTimeoutMs: 10_000,
  });
  try {
    await connection.connect();
    const rows: string[][] = [];
    for (const [name, sql] of Object.entries(RESETS)) {
      for (const dirty of [false, true]) {
        if (name.startsWith('SELECT 1') && dirty) continue;
        for (let i = 0; i < 100; i++) await connection.query(sql); // warm
        let total = 0;
        for (let i = 0; i < iterations; i++) {
          if (dirty) await connection.query(DIRTY);
          const started = process.hrtime.bigint();
          await connection.query(sql);
          total += Number(process.hrtime.bigint() - started);
        }
        rows.push([
          name,
          dirty ? 'left settings + a temp table' : 'clean',
          (total / iterations / 1000).toFixed(1),
        ]);
      }
    }
    console.log(`reset cost per check-in, ${iterations} iterations each (µs, loopback, one connection)\n`);
    console.log('| reset | connection | µs |\n| --- | --- | ---: |');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    await connection.end();
    await cluster.stop();
  }
}

await main();

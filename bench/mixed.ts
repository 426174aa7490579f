import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { coreSettings, databaseTargets, loadConfig } from '../src/config/index.js';
import { Poolpilot, silentLogger } from '../src/core/index.js';
import { REPLAY_POSITION } from '../src/core/router/sql.js';
import { createVerifier, formatVerifier } from '../src/wire/scram-verifier.js';
import { WireSurface } from '../src/wire/wire-surface.js';
import {
  coreActors,
  type MixedOptions,
  type MixedReport,
  R_ROWS,
  READ_R,
  READ_W,
  runMixed,
  SEED_SQL,
  share,
  wireActors,
} from '../support/mixed-workload.js';
import { run, startEmbeddedCluster } from '../support/postgres-cluster.js';

/**
 * `npm run bench:mixed [-- --seconds N --writes N --readers N]`
 *
 * Issue 13's mixed workload against a real primary + streaming replica (embedded PostgreSQL 16,
 * synchronous_commit on): one session writes `w` N times a second and reads back what it wrote;
 * other sessions read `w` and the unrelated `r`. Side by side in one run: read-your-writes as it
 * was (global, replay positions from the 2 s health check only), global with the replay watch,
 * and the default (per session, replay watch), through the core's session API; then the default
 * through the wire front. Also what a routing decision costs with the watch versus asking the
 * replica at decision time. Written to bench/results/mixed.{json,md}; never asserted.
 */
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
};
const OPTIONS: MixedOptions = {
  seconds: flag('seconds', 10),
  writesPerSecond: flag('writes', 30),
  readers: flag('readers', 4),
  readerPauseMs: flag('pause', 5),
};
const DATA_USER = 'mixed_app';
const DATA_PASSWORD = 'mixed bench password';
const WIRE_PASSWORD = 'mixed wire password';

interface Row {
  name: string;
  surface: 'core' | 'wire';
  env: Record<string, string>;
  report: MixedReport;
  /** Replay readings the watch took per second of the run. */
  pollsPerSecond: number;
}

async function main(): Promise<void> {
  const cluster = await startEmbeddedCluster({ replica: true, settings: { synchronous_commit: 'on' } });
  try {
    const admin = cluster.primaryUrl;
    await run(admin, SEED_SQL);
    await run(
      admin,
      `DROP ROLE IF EXISTS ${DATA_USER}; CREATE ROLE ${DATA_USER} LOGIN PASSWORD '${DATA_PASSWORD}';
       GRANT SELECT, UPDATE ON w, r TO ${DATA_USER};`,
    );
    await waitFor(
      async () => (await run(cluster.replicaUrl!, 'SELECT count(*)::int AS n FROM r')).rows[0].n === R_ROWS,
    );
    const asData = (url: string) => {
      const u = new URL(url);
      u.username = DATA_USER;
      u.password = DATA_PASSWORD;
      return u.toString();
    };
    const baseEnv = {
      DATABASE_URL: asData(cluster.primaryUrl),
      ADMIN_DATABASE_URL: cluster.primaryUrl,
      DB_REPLICA_URLS: asData(cluster.replicaUrl!),
      DB_POOL_SIZE: '10',
      DB_POOL_MIN: '2',
      LOG_LEVEL: 'silent',
      WIRE_USERS: `${DATA_USER}:${formatVerifier(createVerifier(WIRE_PASSWORD))}`,
    };
    const configs: { name: string; surface: 'core' | 'wire'; env: Record<string, string> }[] = [
      {
        name: 'before: global, health check only (2 s)',
        surface: 'core',
        env: { READ_YOUR_WRITES: 'global', REPLAY_POLL_MS: '10000' },
      },
      { name: 'global + replay watch (25 ms)', surface: 'core', env: { READ_YOUR_WRITES: 'global' } },
      { name: 'session + replay watch (default)', surface: 'core', env: {} },
      { name: 'session + replay watch (default), wire front', surface: 'wire', env: {} },
    ];
    console.log(
      `mixed workload: ${OPTIONS.writesPerSecond} writes/s to w by one session, ${OPTIONS.readers} reader sessions ` +
        `(pause ${OPTIONS.readerPauseMs} ms), ${OPTIONS.seconds} s per row, ${cpus().length} CPUs (shared)`,
    );
    const rows: Row[] = [];
    let classes: Record<string, string> = {};
    let cost: Record<string, number> = {};
    for (const c of configs) {
      const pp = await startCore({ ...baseEnv, ...c.env });
      let surface: WireSurface | null = null;
      try {
        if (rows.length === 0) {
          classes = {
            READ_W: (await pp.poolpilot.analyzer.analyze(READ_W)).route,
            READ_R: (await pp.poolpilot.analyzer.analyze(READ_R)).route,
          };
          console.log(`routes by the default analyzer: w read ${classes.READ_W}, r read ${classes.READ_R}`);
        }
        const actors =
          c.surface === 'core'
            ? coreActors(pp.poolpilot, OPTIONS.readers)
            : await (async () => {
                const config = loadConfig({ ...baseEnv, ...c.env });
                surface = new WireSurface(
                  pp.poolpilot,
                  { ...config.wire, port: 0, host: '127.0.0.1' },
                  silentLogger,
                );
                await surface.listen();
                return wireActors(
                  {
                    host: '127.0.0.1',
                    port: surface.listener.address!.port,
                    user: DATA_USER,
                    password: WIRE_PASSWORD,
                    database: 'postgres',
                  },
                  OPTIONS.readers,
                );
              })();
        const pollsBefore = pp.poolpilot.replay.polls;
        const report = await runMixed(actors, OPTIONS);
        await actors.close();
        const row: Row = {
          ...c,
          report,
          pollsPerSecond: (pp.poolpilot.replay.polls - pollsBefore) / OPTIONS.seconds,
        };
        rows.push(row);
        console.log(line(row));
        if (c.name.startsWith('session') && c.surface === 'core') cost = await decisionCost(pp.poolpilot);
      } finally {
        await (surface as WireSurface | null)?.close().catch(() => undefined);
        await pp.poolpilot.close(2_000);
      }
    }
    console.log(
      `\nrouting decision with the replay watch: ${cost.decideUs?.toFixed(2)} µs; asking the replica at decision time: ` +
        `${cost.askUs?.toFixed(0)} µs per read (one more query per read while a write is pending)`,
    );
    await writeResults(rows, classes, cost);
  } finally {
    await cluster.stop();
  }
}

async function startCore(env: Record<string, string>) {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ...env });
  const targets = databaseTargets(config);
  const poolpilot = new Poolpilot({
    ...coreSettings(config),
    primary: targets.primary!,
    replicas: targets.replicas,
    embedded: false,
    log: silentLogger,
  });
  await poolpilot.start();
  await waitFor(() => poolpilot.cluster.replicas.every((r) => r.isUp));
  return { poolpilot };
}

/**
 * µs per routing decision of a medium read while a write to its table is pending (what the watch
 * leaves on the read's path), and µs per reading of the replica's replay position (what asking at
 * decision time would add to every such read instead).
 */
async function decisionCost(poolpilot: Poolpilot): Promise<Record<string, number>> {
  const analysis = await poolpilot.analyzer.analyze(READ_W);
  poolpilot.freshness.record('cost-writer', ['w'], '0/1');
  const n = 200_000;
  let started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) poolpilot.router.decide(analysis, { session: 'cost-writer', afterLsn: null });
  const decideUs = Number(process.hrtime.bigint() - started) / n / 1000;
  const replica = poolpilot.cluster.replicas[0]!;
  await replica.admin.query(REPLAY_POSITION);
  const m = 500;
  started = process.hrtime.bigint();
  for (let i = 0; i < m; i++) await replica.admin.query(REPLAY_POSITION);
  const askUs = Number(process.hrtime.bigint() - started) / m / 1000;
  return { decideUs, askUs };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function line(row: Row): string {
  const r = row.report;
  return (
    `${row.name.padEnd(46)} r on replica ${pct(share(r.r)).padStart(6)} (${r.r.reads})  ` +
    `w (others) ${pct(share(r.w)).padStart(6)} (${r.w.reads})  writer reads on replica ${r.writerReadsOnReplica}/${r.writerReads}  ` +
    `violations ${r.violations}  errors ${r.errors}  writes ${r.writes}  watch ${row.pollsPerSecond.toFixed(1)} q/s`
  );
}

async function writeResults(rows: Row[], classes: Record<string, string>, cost: Record<string, number>) {
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const conditions = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    ...OPTIONS,
    postgres:
      'embedded PostgreSQL 16 primary + streaming replica on loopback, synchronous_commit on, fsync off',
    analyzerRoutes: classes,
  };
  await writeFile(
    new URL('./results/mixed.json', import.meta.url),
    `${JSON.stringify({ conditions, rows, decisionCost: cost }, null, 2)}\n`,
  );
  const md = [
    '# Mixed workload: replica share under writes (`npm run bench:mixed`)',
    '',
    `${conditions.date}; ${conditions.cpus} CPUs shared with other work; ${conditions.postgres}.`,
    `One session writes \`w\` ${OPTIONS.writesPerSecond}×/s and reads back the group it wrote; ${OPTIONS.readers} other ` +
      `sessions read \`w\` and \`r\` alternately (${OPTIONS.readerPauseMs} ms pause), ${OPTIONS.seconds} s per row. ` +
      `Analyzer routes: w read ${classes.READ_W}, r read ${classes.READ_R}.`,
    '',
    "| configuration | r on replica | other sessions' w on replica | writer's reads on replica | violations | errors | writes | watch queries/s |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => {
      const r = row.report;
      return `| ${row.name} | ${pct(share(r.r))} of ${r.r.reads} | ${pct(share(r.w))} of ${r.w.reads} | ${r.writerReadsOnReplica} of ${r.writerReads} | ${r.violations} | ${r.errors} | ${r.writes} | ${row.pollsPerSecond.toFixed(1)} |`;
    }),
    '',
    `Routing decision of a read with a pending write, replay watch: ${cost.decideUs?.toFixed(2)} µs in process. ` +
      `Asking the replica at decision time instead: ${cost.askUs?.toFixed(0)} µs per read (a round trip on the control-plane pool), ` +
      "one extra query for every read while a write is pending, versus the watch's queries/s above (at most 1000/REPLAY_POLL_MS per replica).",
    '',
  ].join('\n');
  await writeFile(new URL('./results/mixed.md', import.meta.url), md);
}

async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

await main();

import { type ClientInfo, type TrafficCounters, zeroTraffic } from '../core/clients/index.js';
import type { Poolpilot } from '../core/poolpilot.js';
import { TypeOid } from './backend-messages.js';

/**
 * The admin console's SHOW results, with PgBouncer's column names and types (src/admin.c,
 * src/stats.c of PgBouncer 1.23) so that tools written for PgBouncer read them unchanged. Every
 * figure comes from the core: the pools, the client registry, the router's counts.
 */

/** PgBouncer's column type letters: s text, i int4, q int8, T timestamp. */
type Letter = 's' | 'i' | 'q' | 'T';
const OID: Record<Letter, number> = { s: TypeOid.text, i: TypeOid.int4, q: TypeOid.int8, T: 1114 };

export interface Table {
  columns: { name: string; typeOid: number }[];
  rows: (string | null)[][];
}

type Value = string | number | Date | null | undefined;

function table(types: string, names: string[], rows: Value[][]): Table {
  if (types.length !== names.length)
    throw new Error(`column types ${types} do not match ${names.length} names`);
  return {
    columns: names.map((name, i) => ({ name, typeOid: OID[types[i] as Letter] })),
    rows: rows.map((row) => row.map(text)),
  };
}

function text(value: Value): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return timestamp(value);
  if (typeof value === 'number') return String(Math.round(value));
  return value;
}

/** PgBouncer prints its timestamps as `YYYY-MM-DD HH:MM:SS`; here always in UTC. */
function timestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/** What the console needs of the wire front around it. */
export interface ConsoleSource {
  poolpilot: Poolpilot;
  /** Wire clients (the proxy's and the console's) with their sockets. */
  clients(): ConsoleClient[];
  /** Connections still in the handshake (PgBouncer's login_clients). */
  loggingIn(): number;
  users(): number;
  maxClients: number;
  config(): ConfigRow[];
}

export interface ConsoleClient {
  info: ClientInfo;
  localAddress: string;
  localPort: number;
  tls: string;
}

export interface ConfigRow {
  key: string;
  value: string;
  default: string;
  changeable: boolean;
}

/** Averages over PgBouncer's stats_period, from two snapshots of the traffic counters. */
export interface Period {
  seconds: number;
  before: ReadonlyMap<string, TrafficCounters>;
  after: ReadonlyMap<string, TrafficCounters>;
}

export function showPools(src: ConsoleSource): Table {
  const user = src.poolpilot.cluster.primary.spec.endpoint.user;
  return table(
    'ssiiiiiiiiiiiiiss',
    [
      'database',
      'user',
      'cl_active',
      'cl_waiting',
      'cl_active_cancel_req',
      'cl_waiting_cancel_req',
      'sv_active',
      'sv_active_cancel',
      'sv_being_canceled',
      'sv_idle',
      'sv_used',
      'sv_tested',
      'sv_login',
      'maxwait',
      'maxwait_us',
      'pool_mode',
      'load_balance_hosts',
    ],
    src.poolpilot.cluster.targets.map((t) => {
      const pool = t.pool.state();
      const clients = src.poolpilot.clients.summary(t.name);
      const waitUs = Math.floor(pool.maxWaitMs * 1000);
      return [
        t.name,
        t.spec.endpoint.user ?? user,
        clients.active,
        pool.waiting,
        // Cancel requests are sent at once, never queued: none is ever pending.
        0,
        0,
        pool.active - pool.resetting,
        0,
        0,
        pool.idle,
        0,
        pool.resetting,
        pool.connecting,
        Math.floor(waitUs / 1_000_000),
        waitUs % 1_000_000,
        'transaction',
        null,
      ];
    }),
  );
}

const STATS_COLUMNS = [
  'server_assignment_count',
  'xact_count',
  'query_count',
  'received',
  'sent',
  'xact_time',
  'query_time',
  'wait_time',
] as const;

/** One target's totals and averages over the period, in SHOW STATS order. */
function statsOf(
  src: ConsoleSource,
  period: Period,
  target: string,
): { totals: number[]; averages: number[] } {
  const c = src.poolpilot.clients.traffic(target);
  const before = period.before.get(target) ?? zero;
  const after = period.after.get(target) ?? zero;
  const d = (k: keyof TrafficCounters) => after[k] - before[k];
  const perSecond = (k: keyof TrafficCounters) => (period.seconds > 0 ? d(k) / period.seconds : 0);
  const per = (k: keyof TrafficCounters, n: keyof TrafficCounters) => (d(n) > 0 ? d(k) / d(n) : 0);
  return {
    totals: [
      c.assignments,
      c.transactions,
      c.statements,
      c.bytesReceived,
      c.bytesSent,
      c.transactionTimeUs,
      c.statementTimeUs,
      c.waitTimeUs,
    ],
    averages: [
      perSecond('assignments'),
      perSecond('transactions'),
      perSecond('statements'),
      perSecond('bytesReceived'),
      perSecond('bytesSent'),
      per('transactionTimeUs', 'transactions'),
      per('statementTimeUs', 'statements'),
      per('waitTimeUs', 'assignments'),
    ],
  };
}

export function showStats(src: ConsoleSource, period: Period): Table {
  const names = [
    'database',
    ...STATS_COLUMNS.map((c) => `total_${c}`),
    ...STATS_COLUMNS.map((c) => `avg_${c === 'received' ? 'recv' : c}`),
  ];
  return table(
    `s${'q'.repeat(STATS_COLUMNS.length * 2)}`,
    names,
    src.poolpilot.cluster.targets.map((t) => {
      const { totals, averages } = statsOf(src, period, t.name);
      return [t.name, ...totals, ...averages];
    }),
  );
}

/** SHOW STATS_TOTALS and SHOW STATS_AVERAGES: the two halves of SHOW STATS, without prefixes. */
export function showStatsHalf(src: ConsoleSource, period: Period, half: 'totals' | 'averages'): Table {
  const names = [
    'database',
    ...STATS_COLUMNS.map((c) => (c === 'received' || c === 'sent' ? `bytes_${c}` : c)),
  ];
  return table(
    `s${'q'.repeat(STATS_COLUMNS.length)}`,
    names,
    src.poolpilot.cluster.targets.map((t) => [t.name, ...statsOf(src, period, t.name)[half]]),
  );
}

const zero: TrafficCounters = zeroTraffic();

const SOCKET_TYPES = 'ssssssisiTTiiississii';
const SOCKET_COLUMNS = [
  'type',
  'user',
  'database',
  'replication',
  'state',
  'addr',
  'port',
  'local_addr',
  'local_port',
  'connect_time',
  'request_time',
  'wait',
  'wait_us',
  'close_needed',
  'ptr',
  'link',
  'remote_pid',
  'tls',
  'application_name',
  'prepared_statements',
  'id',
];

export function showClients(src: ConsoleSource): Table {
  return table(
    SOCKET_TYPES,
    SOCKET_COLUMNS,
    src.clients().map(({ info, localAddress, localPort, tls }) => {
      const waitUs = Math.floor((info.waitMs ?? 0) * 1000);
      return [
        'C',
        info.user,
        info.database,
        'none',
        info.state,
        info.address,
        info.port,
        localAddress,
        localPort,
        info.connectedAt,
        info.lastRequestAt ?? info.connectedAt,
        Math.floor(waitUs / 1_000_000),
        waitUs % 1_000_000,
        0,
        String(info.id),
        info.target ?? '',
        // A TCP client's process id is not known (PgBouncer shows it for Unix sockets only).
        0,
        tls,
        info.applicationName,
        info.preparedStatements,
        info.id,
      ];
    }),
  );
}

export function showServers(src: ConsoleSource): Table {
  const rows: Value[][] = [];
  for (const t of src.poolpilot.cluster.targets) {
    for (const s of t.pool.connections()) {
      rows.push([
        'S',
        t.spec.endpoint.user,
        t.name,
        'none',
        s.state,
        s.host,
        s.port,
        s.localAddress,
        s.localPort,
        s.connectedAt,
        s.since,
        0,
        0,
        0,
        String(s.pid),
        '',
        s.pid,
        s.tls,
        'poolpilot',
        0,
        s.pid,
      ]);
    }
  }
  return table(SOCKET_TYPES, SOCKET_COLUMNS, rows);
}

export function showDatabases(src: ConsoleSource): Table {
  return table(
    'ssissiiiissiiiiii',
    [
      'name',
      'host',
      'port',
      'database',
      'force_user',
      'pool_size',
      'min_pool_size',
      'reserve_pool_size',
      'server_lifetime',
      'pool_mode',
      'load_balance_hosts',
      'max_connections',
      'current_connections',
      'max_client_connections',
      'current_client_connections',
      'paused',
      'disabled',
    ],
    src.poolpilot.cluster.targets.map((t) => {
      const pool = t.pool.state();
      const e = t.spec.endpoint;
      return [
        t.name,
        e.host,
        e.port,
        e.database,
        e.user,
        pool.max,
        pool.min,
        // No reserve pool, and connections live until idle timeout or RECONNECT: 0 as PgBouncer means "none".
        0,
        0,
        'transaction',
        null,
        pool.max,
        pool.total,
        src.maxClients,
        src.poolpilot.clients.summary(t.name).total,
        pool.paused ? 1 : 0,
        0,
      ];
    }),
  );
}

export function showLists(src: ConsoleSource): Table {
  const targets = src.poolpilot.cluster.targets;
  const servers = targets.reduce((sum, t) => sum + t.pool.state().total, 0);
  return table(
    'si',
    ['list', 'items'],
    [
      ['databases', targets.length],
      ['users', src.users()],
      ['pools', targets.length],
      ['used_clients', src.clients().length],
      ['login_clients', src.loggingIn()],
      ['used_servers', servers],
    ],
  );
}

export function showConfig(src: ConsoleSource): Table {
  return table(
    'ssss',
    ['key', 'value', 'default', 'changeable'],
    src.config().map((r) => [r.key, r.value, r.default, r.changeable ? 'yes' : 'no']),
  );
}

export function showVersion(version: string): Table {
  return table('s', ['version'], [[`poolpilot ${version}`]]);
}

/** poolpilot's own: where statements and units of work went, by complexity class and target. */
export function showRoutes(src: ConsoleSource): Table {
  return table(
    'ssqq',
    ['class', 'target', 'count', 'queued'],
    src.poolpilot.router.taken.list().map((r) => [r.class.toLowerCase(), r.target, r.count, r.queued]),
  );
}

/** poolpilot's own: each replica's replay lag as health checking last measured it. */
export function showReplication(src: ConsoleSource): Table {
  return table(
    'sssqqsss',
    ['name', 'status', 'replay_paused', 'lag_bytes', 'lag_ms', 'receive_lsn', 'replay_lsn', 'last_check'],
    src.poolpilot.cluster.replicas.map((t) => {
      const r = t.replication;
      return [
        t.name,
        t.health.status,
        r ? String(r.replayPaused) : null,
        r?.lagBytes ?? null,
        r?.lagMs ?? null,
        r?.receiveLsn ?? null,
        r?.replayLsn ?? null,
        t.health.lastCheckAt ? timestamp(t.health.lastCheckAt) : null,
      ];
    }),
  );
}

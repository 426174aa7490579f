import { Counter, Gauge, type Registry } from 'prom-client';
import type { TrafficCounters } from '../core/clients/index.js';
import type { Poolpilot } from '../core/index.js';
import type { ConnectionStatesSample, CpuSample, SampleStream } from '../core/telemetry/index.js';

/**
 * Metrics of the services above the pools: routing decisions as statements complete, the
 * complex-query queue, and the telemetry samplers' CPU and connection-state figures.
 */

const PREFIX = 'poolpilot_';
/** Samples for /metrics are taken this often, and only while something scrapes. */
export const SCRAPE_SAMPLE_INTERVAL_MS = 5_000;
/** A sampler started by a scrape stops when no scrape came for this long. */
const SCRAPE_IDLE_MS = 120_000;
/** A first scrape waits this long for the first sample rather than answering without it. */
const FIRST_SAMPLE_WAIT_MS = 2_000;

export function registerServiceMetrics(registry: Registry, poolpilot: Poolpilot): () => void {
  const registers = [registry];

  const routed = new Counter({
    name: `${PREFIX}routed_statements_total`,
    help: 'Statements executeQuery completed, by route class, target and whether they queued.',
    labelNames: ['route', 'target', 'queued'],
    registers,
  });
  const detachRouting = poolpilot.onExecuted((r) =>
    routed.inc({ route: r.route.toLowerCase(), target: r.target, queued: String(r.queued) }),
  );

  // Wire-front clients (PgBouncer's cl_active / cl_waiting / maxwait) and traffic per target.
  new Gauge({
    name: `${PREFIX}wire_clients`,
    help: 'Clients connected through the PostgreSQL wire front, by state (active, waiting, idle).',
    labelNames: ['state'],
    registers,
    collect() {
      const s = poolpilot.clients.summary();
      this.set({ state: 'active' }, s.active);
      this.set({ state: 'waiting' }, s.waiting);
      this.set({ state: 'idle' }, s.idle);
    },
  });
  // Several instances as one (REDIS_URL): whether coordination works, and this instance's shares.
  const fleet = poolpilot.fleet;
  if (fleet) {
    new Gauge({
      name: `${PREFIX}fleet_redis_up`,
      help: 'Redis answers (1) or not (0: degraded, shares frozen, never grown).',
      registers,
      collect() {
        this.set(fleet.link.up ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}fleet_share_connections`,
      help: "This instance's share of each target's connection budget (DB_POOL_SIZE across all instances).",
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const share of fleet.budget.state()) this.set({ target: share.target }, share.share);
      },
    });
  }
  new Gauge({
    name: `${PREFIX}wire_client_max_wait_seconds`,
    help: 'How long the longest-waiting wire client has waited for a server connection (maxwait).',
    registers,
    collect() {
      this.set(poolpilot.clients.summary().maxWaitMs / 1000);
    },
  });
  const traffic = (name: string, help: string, pick: (c: TrafficCounters) => number) =>
    new Counter({
      name: PREFIX + name,
      help,
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const [target, c] of poolpilot.clients.allTraffic()) this.inc({ target }, pick(c));
      },
    });
  traffic(
    'wire_transactions_total',
    'Wire-front transactions completed (xact_count).',
    (c) => c.transactions,
  );
  traffic('wire_statements_total', 'Wire-front statements sent (query_count).', (c) => c.statements);
  traffic(
    'wire_transaction_seconds_total',
    'Time in wire-front transactions (xact_time).',
    (c) => c.transactionTimeUs / 1e6,
  );
  traffic(
    'wire_statement_seconds_total',
    'Time from a wire request to its answer (query_time).',
    (c) => c.statementTimeUs / 1e6,
  );
  traffic(
    'wire_wait_seconds_total',
    'Time wire clients waited for a connection (wait_time).',
    (c) => c.waitTimeUs / 1e6,
  );
  traffic('wire_received_bytes_total', 'Bytes from wire clients (bytes_received).', (c) => c.bytesReceived);
  traffic('wire_sent_bytes_total', 'Bytes to wire clients (bytes_sent).', (c) => c.bytesSent);

  const queue = () => poolpilot.queue.state();
  const queueGauge = (name: string, help: string, pick: (q: ReturnType<typeof queue>) => number) =>
    new Gauge({
      name: PREFIX + name,
      help,
      registers,
      collect() {
        this.set(pick(queue()));
      },
    });
  queueGauge('queue_depth', 'Complex statements waiting for a slot.', (q) => q.depth);
  queueGauge('queue_running', 'Complex statements running.', (q) => q.running);
  queueGauge(
    'queue_concurrency',
    'Slots for complex statements (COMPLEX_QUEUE_CONCURRENCY).',
    (q) => q.concurrency,
  );
  queueGauge('queue_capacity', 'Complex statements that may wait (COMPLEX_QUEUE_MAX).', (q) => q.max);
  queueGauge(
    'queue_oldest_wait_seconds',
    'How long the oldest waiting complex statement has waited.',
    (q) => q.oldestWaitMs / 1000,
  );
  new Counter({
    name: `${PREFIX}queue_rejections_total`,
    help: 'Complex statements refused: the queue was full, or they waited COMPLEX_QUEUE_TIMEOUT_MS.',
    labelNames: ['reason'],
    registers,
    collect() {
      const q = queue();
      this.reset();
      this.inc({ reason: 'full' }, q.rejected);
      this.inc({ reason: 'timeout' }, q.timedOut);
    },
  });
  new Counter({
    name: `${PREFIX}queue_statements_total`,
    help: 'Complex statements that went through the queue, by how they left it.',
    labelNames: ['outcome'],
    registers,
    collect() {
      const q = queue();
      this.reset();
      this.inc({ outcome: 'completed' }, q.completed);
      this.inc({ outcome: 'failed' }, q.failed);
      this.inc({ outcome: 'cancelled' }, q.cancelled);
    },
  });

  const cpu = new ScrapeSampler(() => poolpilot.telemetry.containerCpu(SCRAPE_SAMPLE_INTERVAL_MS));
  const sessions = new ScrapeSampler(() => poolpilot.telemetry.connectionStates(SCRAPE_SAMPLE_INTERVAL_MS));
  const sampled = <T>(
    sampler: ScrapeSampler<T>,
    name: string,
    help: string,
    labelNames: string[],
    fill: (sample: T, set: (labels: Record<string, string>, value: number | null) => void) => void,
  ) =>
    new Gauge({
      name: PREFIX + name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        const sample = await sampler.latest();
        if (!sample) return;
        fill(sample, (labels, value) => {
          if (value !== null) this.set(labels, value);
        });
      },
    });
  sampled<CpuSample>(
    cpu,
    'postgres_cpu_percent',
    'CPU of the PostgreSQL server; 100 = one core busy.',
    ['source'],
    (s, set) => set({ source: s.source }, s.percentOfOneCore),
  );
  sampled<CpuSample>(cpu, 'postgres_cpu_cores', 'Cores available to the PostgreSQL server.', [], (s, set) =>
    set({}, s.cores),
  );
  sampled<CpuSample>(
    cpu,
    'postgres_memory_bytes',
    'Memory of the PostgreSQL server, without page cache.',
    [],
    (s, set) => set({}, s.memoryBytes),
  );
  sampled<CpuSample>(
    cpu,
    'host_load_average',
    'Load average of the host poolpilot runs on.',
    ['window'],
    (s, set) => {
      for (const [i, window] of ['1m', '5m', '15m'].entries()) set({ window }, s.loadAverage[i] ?? null);
    },
  );
  sampled<ConnectionStatesSample>(
    sessions,
    'postgres_connections',
    'Sessions on the primary by state (pg_stat_activity).',
    ['state'],
    (s, set) => {
      if (s.error) return;
      for (const state of [
        'active',
        'idle',
        'idleInTransaction',
        'idleInTransactionAborted',
        'fastpathFunctionCall',
        'disabled',
        'unknown',
      ] as const)
        set({ state: state.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) }, s[state]);
    },
  );
  sampled<ConnectionStatesSample>(
    sessions,
    'postgres_sessions_waiting_on_locks',
    'Sessions blocked by a lock.',
    [],
    (s, set) => set({}, s.error ? null : s.waitingOnLocks),
  );
  sampled<ConnectionStatesSample>(
    sessions,
    'postgres_oldest_transaction_seconds',
    'Age of the oldest open transaction on the primary.',
    [],
    (s, set) => set({}, s.oldestTransactionAgeMs === null ? null : s.oldestTransactionAgeMs / 1000),
  );

  return () => {
    detachRouting();
    cpu.stop();
    sessions.stop();
  };
}

/**
 * A telemetry subscription kept open only while /metrics is scraped: the first scrape starts it,
 * each scrape keeps it alive, and it ends after SCRAPE_IDLE_MS without one.
 */
class ScrapeSampler<T> {
  readonly #open: () => SampleStream<T>;
  #stream: SampleStream<T> | null = null;
  #latest: T | null = null;
  #first: Promise<void> | null = null;
  #idle: NodeJS.Timeout | null = null;

  constructor(open: () => SampleStream<T>) {
    this.#open = open;
  }

  async latest(): Promise<T | null> {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.stop(), SCRAPE_IDLE_MS);
    this.#idle.unref();
    if (!this.#stream) {
      const stream = this.#open();
      this.#stream = stream;
      this.#first = new Promise<void>((resolve) => {
        void (async () => {
          for await (const sample of stream) {
            this.#latest = sample;
            resolve();
          }
          resolve();
        })();
      });
    }
    if (this.#latest === null && this.#first) {
      await Promise.race([this.#first, new Promise((r) => setTimeout(r, FIRST_SAMPLE_WAIT_MS).unref())]);
    }
    return this.#latest;
  }

  stop(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    void this.#stream?.return();
    this.#stream = null;
    this.#first = null;
    this.#latest = null;
  }
}

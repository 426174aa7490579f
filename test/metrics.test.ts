import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { describe, expect, inject, it } from 'vitest';
import { useTestServer } from './harness/server.js';

const { primaryUrl, replicaUrl } = inject('databases');

describe('GET /metrics', () => {
  const server = useTestServer(
    { DB_POOL_MIN: '1', DB_POOL_SIZE: '3', DB_PASSWORD: 'never-shown-in-metrics' },
    { replica: true },
  );

  const scrape = async () => {
    const res = await fetch(`${server.pp.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    // The parser folds a labelled histogram into one unlabelled sample; read with its TYPE line
    // left out, each `_bucket`/`_sum`/`_count` series comes back as its own family with labels.
    const untyped = text.replace(/^# TYPE \S+ histogram$/gm, '');
    const series = new Map(parsePrometheusTextFormat(untyped).map((f) => [f.name, f]));
    return { text, families, series };
  };
  /** One histogram's buckets, count and sum for the series matching `labels`. */
  const histogram = (series: Map<string, PrometheusFamily>, name: string, labels: Record<string, string>) => {
    const matching = (suffix: string) =>
      (series.get(name + suffix)?.metrics ?? []).filter((m) =>
        Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
      );
    const buckets = Object.fromEntries(matching('_bucket').map((m) => [m.labels?.le, Number(m.value)]));
    const count = matching('_count')[0];
    const sum = matching('_sum')[0];
    return {
      buckets,
      count: count ? Number(count.value) : Number.NaN,
      sum: sum ? Number(sum.value) : Number.NaN,
    };
  };
  const sample = (family: PrometheusFamily | undefined, labels: Record<string, string>) =>
    family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

  it('exposes PgBouncer-style pool gauges per target, parsed by a Prometheus parser', async () => {
    // Four statements at once on a pool of three: one caller has to wait for a connection.
    await Promise.all(
      Array.from({ length: 4 }, () => server.pp.poolpilot.cluster.primary.pool.query('SELECT pg_sleep(0.2)')),
    );
    const { families } = await scrape();
    for (const name of ['cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_login', 'maxwait_seconds']) {
      const family = families.get(`poolpilot_${name}`);
      expect(family?.type, name).toBe('GAUGE');
      expect(sample(family, { target: 'primary', role: 'primary' }), name).toBeDefined();
    }
    expect(Number(sample(families.get('poolpilot_pool_size_max'), { target: 'primary' })?.value)).toBe(3);
    expect(Number(sample(families.get('poolpilot_target_up'), { target: 'primary' })?.value)).toBe(1);
    expect(
      Number(sample(families.get('poolpilot_sv_idle'), { target: 'primary' })?.value),
    ).toBeGreaterThanOrEqual(1);
    expect(families.get('poolpilot_connections_opened_total')?.type).toBe('COUNTER');
    if (replicaUrl) {
      expect(
        sample(families.get('poolpilot_target_up'), { target: 'replica-1', role: 'replica' })?.value,
      ).toBe('1');
      const lag = sample(families.get('poolpilot_replica_lag_bytes'), { target: 'replica-1' });
      expect(Number(lag?.value)).toBeGreaterThanOrEqual(0);
      expect(sample(families.get('poolpilot_replica_lag_bytes'), { target: 'primary' })).toBeUndefined();
    }
  });

  it('counts acquire waits and statement latencies in histograms', async () => {
    const { families, series } = await scrape();
    expect(families.get('poolpilot_query_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(families.get('poolpilot_acquire_wait_seconds')?.type).toBe('HISTOGRAM');
    const latency = histogram(series, 'poolpilot_query_duration_seconds', {
      target: 'primary',
      outcome: 'ok',
    });
    expect(latency.count).toBeGreaterThanOrEqual(4);
    // Four 200 ms sleeps: none of them can land at or below 100 ms, all at or below 250 ms.
    expect((latency.buckets['0.25'] ?? 0) - (latency.buckets['0.1'] ?? 0)).toBeGreaterThanOrEqual(4);
    expect(latency.buckets['+Inf']).toBe(latency.count);
    expect(latency.sum).toBeGreaterThanOrEqual(0.8);
    const wait = histogram(series, 'poolpilot_acquire_wait_seconds', { target: 'primary' });
    expect(wait.count).toBeGreaterThanOrEqual(4);
    // The fourth caller waited for one of the sleeps to finish.
    expect((wait.buckets['+Inf'] ?? 0) - (wait.buckets['0.1'] ?? 0)).toBeGreaterThanOrEqual(1);

    await server.pp.poolpilot.cluster.primary.pool.query('SELECT 1/0').catch(() => undefined);
    const after = await scrape();
    const failed = histogram(after.series, 'poolpilot_query_duration_seconds', {
      target: 'primary',
      outcome: 'error',
    });
    expect(failed.count).toBeGreaterThanOrEqual(1);
  });

  it('counts GraphQL operations per root field and times them', async () => {
    await server.pp.gql('{ poolStats { total } health { status } }');
    await server.pp.gql('{ poolStats { total } }');
    await server.pp.gql('{ nope }');
    const { families, series } = await scrape();
    const ops = families.get('poolpilot_graphql_operations_total');
    expect(ops?.type).toBe('COUNTER');
    expect(
      Number(sample(ops, { type: 'query', field: 'poolStats', outcome: 'ok' })?.value),
    ).toBeGreaterThanOrEqual(2);
    expect(
      Number(sample(ops, { type: 'query', field: 'health', outcome: 'ok' })?.value),
    ).toBeGreaterThanOrEqual(1);
    // Invalid documents never reach execution, so client-chosen names cannot grow the label set.
    expect(sample(ops, { field: 'nope' })).toBeUndefined();
    const duration = histogram(series, 'poolpilot_graphql_operation_duration_seconds', { type: 'query' });
    expect(duration.count).toBeGreaterThanOrEqual(2);
  });

  it('counts routed statements by class and target, and shows the queue', async () => {
    const execute = (sql: string) =>
      server.pp.gql('mutation($sql: String!) { executeQuery(sql: $sql) { route target } }', { sql });
    const results = [await execute('SELECT 1'), await execute('SELECT 2'), await execute('SELECT 3')];
    for (const r of results) expect(r.errors).toBeUndefined();
    const routes = results.map((r) => (r.data as any).executeQuery as { route: string; target: string });
    const { families } = await scrape();
    const routed = families.get('poolpilot_routed_statements_total');
    expect(routed?.type).toBe('COUNTER');
    for (const { route, target } of routes) {
      const series = sample(routed, { route: route.toLowerCase(), target, queued: 'false' });
      const expected = routes.filter((r) => r.route === route && r.target === target).length;
      expect(Number(series?.value)).toBe(expected);
    }
    expect(Number(sample(families.get('poolpilot_queue_depth'), {})?.value)).toBe(0);
    expect(Number(sample(families.get('poolpilot_queue_concurrency'), {})?.value)).toBe(
      server.pp.config.queue.concurrency,
    );
    const rejections = families.get('poolpilot_queue_rejections_total');
    expect(sample(rejections, { reason: 'full' })?.value).toBe('0');
    expect(sample(rejections, { reason: 'timeout' })?.value).toBe('0');
  });

  it('samples CPU and connection states while it is scraped', async () => {
    const { families } = await scrape();
    const load = families.get('poolpilot_host_load_average');
    expect(load?.metrics.map((m) => m.labels?.window).sort()).toEqual(['15m', '1m', '5m']);
    const idle = sample(families.get('poolpilot_postgres_connections'), { state: 'idle' });
    // The pool keeps at least one connection open to the primary, idle between statements.
    expect(Number(idle?.value)).toBeGreaterThanOrEqual(1);
    expect(
      sample(families.get('poolpilot_postgres_connections'), { state: 'idle_in_transaction' }),
    ).toBeDefined();
    // A count over the whole server, which other test files share: a number, not necessarily 0
    // (connection-states-sampler.test.ts makes a real lock waiter and checks it is counted).
    expect(families.get('poolpilot_postgres_sessions_waiting_on_locks')?.metrics[0]?.value).toMatch(/^\d+$/);
    const streams = server.pp.poolpilot.telemetry.samplers().map((s) => s.stream);
    expect(streams).toEqual(expect.arrayContaining(['containerCpu', 'connectionStates']));
  });

  it('includes process metrics and never a secret', async () => {
    const { text, families } = await scrape();
    expect(families.get('poolpilot_process_resident_memory_bytes')?.type).toBe('GAUGE');
    expect(families.get('poolpilot_nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(text).not.toContain('never-shown-in-metrics');
    const password = new URL(primaryUrl).password;
    if (password) expect(text).not.toContain(password);
  });
});

// poolpilot's live dashboard: three graphql-ws subscriptions drawn with uPlot, and the slow
// queries table refreshed by a query over the same connection.

import { LiveChart } from '/dashboard/assets/charts.js';
import { createClient } from '/dashboard/vendor/graphql-ws/client.js';

const $ = (id) => document.getElementById(id);
const card = (name) => document.querySelector(`[data-chart="${name}"]`);
const TOKEN_KEY = 'poolpilot.token';
const UNAUTHORIZED = 4401;
const FORBIDDEN = 4403;

const pct = (v) => `${Math.round(v)}%`;
const charts = {
  utilization: new LiveChart(card('utilization'), { yRange: [0, 100], format: pct, unit: '% of max' }),
  waiting: new LiveChart(card('waiting'), {
    yRange: (_u, _min, max) => [0, Math.max(5, max)],
    unit: 'clients',
    integer: true,
  }),
  cpu: new LiveChart(card('cpu'), {
    yRange: (_u, _min, max) => [0, Math.max(100, max)],
    format: pct,
    unit: '% of one core',
  }),
  states: new LiveChart(card('states'), {
    stacked: true,
    unit: 'sessions',
    integer: true,
    yRange: (_u, _min, max) => [0, Math.max(5, max)],
    colors: {
      active: '#58a6ff',
      'idle in transaction': '#d29922',
      'idle in transaction (aborted)': '#f85149',
      idle: '#3a4a5c',
      other: '#bc8cff',
    },
  }),
  queue: new LiveChart(card('queue'), {
    yRange: (_u, _min, max) => [0, Math.max(5, max)],
    unit: 'statements',
    integer: true,
  }),
};

const POOL = `subscription Pool($ms: Int) { poolUtilization(intervalMs: $ms) {
  at status total { active max utilization waiting queriesPerSecond errors acquireWaitP95Ms }
  targets { name role up utilization waiting active max }
  queue { depth running concurrency }
} }`;
const CPU = `subscription Cpu($ms: Int) { containerCpu(intervalMs: $ms) {
  at source detail skipped percentOfOneCore percentOfAllCores cores memoryBytes loadAverage
} }`;
const STATES = `subscription States($ms: Int) { connectionStates(intervalMs: $ms) {
  at total active idle idleInTransaction idleInTransactionAborted fastpathFunctionCall disabled unknown
  waitingOnLocks oldestTransactionAgeMs oldestIdleInTransactionAgeMs error own { total }
} }`;
// The slow ones by the server's own thresholds (SLOW_QUERY_MIN_CALLS, SLOW_QUERY_MIN_MEAN_MS),
// by total time; the note under the title says what those thresholds are.
const SLOW =
  '{ slowQueries(limit: 10) { query calls meanMs totalMs } queryStatistics { minCalls minMeanMs } }';

const seconds = (iso) => new Date(iso).getTime() / 1000;
const fixed = (v, digits = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(digits));
const ms = (v) =>
  v === null || v === undefined ? '–' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;
const mb = (bytes) => (bytes === null || bytes === undefined ? '–' : `${(bytes / 1048576).toFixed(0)} MB`);
const figures = (id, pairs) => {
  $(id).innerHTML = pairs.map(([k, v]) => `${k} <b>${escapeHtml(String(v))}</b>`).join(' · ');
};
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function onPool({ poolUtilization: s }) {
  const at = seconds(s.at);
  const names = s.targets.map((t) => t.name);
  charts.utilization.push(
    at,
    names,
    s.targets.map((t) => t.utilization),
  );
  charts.waiting.push(
    at,
    names,
    s.targets.map((t) => t.waiting),
  );
  figures('utilization-figures', [
    ['status', s.status.toLowerCase()],
    ['active', `${s.total.active}/${s.total.max}`],
    ['queries/s', fixed(s.total.queriesPerSecond)],
    ['errors', s.total.errors],
  ]);
  figures('waiting-figures', [
    ['waiting', s.total.waiting],
    ['acquire wait p95', ms(s.total.acquireWaitP95Ms)],
  ]);
  const q = s.queue ?? { depth: 0, running: 0, concurrency: 0 };
  charts.queue.push(at, ['depth', 'running'], [q.depth, q.running]);
  $('queue-note').textContent = s.queue ? `${q.concurrency} slots` : 'no queue on this instance';
  figures('queue-figures', [
    ['waiting', q.depth],
    ['running', q.running],
  ]);
}

function onCpu({ containerCpu: s }) {
  charts.cpu.push(seconds(s.at), ['% of one core'], [s.percentOfOneCore]);
  $('cpu-source').textContent =
    s.source === 'NONE' ? 'no source' : `${s.source.toLowerCase()}: ${s.detail ?? ''}`;
  $('cpu-source').title = s.skipped.join('\n');
  figures(
    'cpu-figures',
    s.source === 'NONE'
      ? [['unavailable', s.skipped.at(-1) ?? '']]
      : [
          ['cores', fixed(s.cores, 0)],
          ['of all cores', `${fixed(s.percentOfAllCores)}%`],
          ['memory', mb(s.memoryBytes)],
          ['host load', s.loadAverage.map((l) => l.toFixed(2)).join(' ')],
        ],
  );
}

function onStates({ connectionStates: s }) {
  const labels = ['active', 'idle in transaction', 'idle in transaction (aborted)', 'idle', 'other'];
  const other = s.fastpathFunctionCall + s.disabled + s.unknown;
  charts.states.push(seconds(s.at), labels, [
    s.active,
    s.idleInTransaction,
    s.idleInTransactionAborted,
    s.idle,
    other,
  ]);
  figures(
    'states-figures',
    s.error
      ? [['error', s.error]]
      : [
          ['sessions', s.total],
          ['poolpilot', s.own.total],
          ['waiting on locks', s.waitingOnLocks],
          ['oldest xact', ms(s.oldestTransactionAgeMs)],
          ['oldest idle in xact', ms(s.oldestIdleInTransactionAgeMs)],
        ],
  );
}

function renderSlowQueries(result) {
  const body = $('slow-queries').tBodies[0];
  if (result.errors?.length) {
    body.innerHTML = `<tr><td colspan="4" class="muted">${escapeHtml(result.errors[0].message)}</td></tr>`;
    return;
  }
  const rows = result.data?.slowQueries ?? [];
  const limits = result.data?.queryStatistics;
  if (limits)
    $('slow-note').textContent =
      `≥ ${limits.minCalls} calls, mean ≥ ${limits.minMeanMs} ms · by total time · refreshed every 5 s`;
  // Long statements (DDL, generated SQL) are clamped to a few lines; the full text is the tooltip.
  body.innerHTML = rows.length
    ? rows
        .map(
          (r) =>
            `<tr><td><code title="${escapeHtml(r.query)}">${escapeHtml(r.query)}</code></td><td>${r.calls}</td>` +
            `<td>${fixed(r.meanMs, 2)}</td><td>${fixed(r.totalMs, 0)}</td></tr>`,
        )
        .join('')
    : '<tr><td colspan="4" class="muted">no slow statements yet</td></tr>';
}

let client = null;
let stops = [];
let slowTimer = null;

function setStatus(state, text) {
  $('status').className = `status ${state}`;
  $('status').textContent = text;
}

function askForToken(message) {
  $('token-message').textContent = message;
  $('token-form').hidden = false;
  $('token').focus();
}

function subscribe(query, next) {
  const interval = Number($('interval').value);
  return client.subscribe(
    { query, variables: { ms: interval } },
    {
      next: (result) => (result.data ? next(result.data) : console.warn(result.errors)),
      error: (error) => console.warn(error),
      complete: () => undefined,
    },
  );
}

async function refreshSlowQueries() {
  if (!client) return;
  try {
    for await (const result of client.iterate({ query: SLOW })) renderSlowQueries(result);
  } catch (error) {
    // graphql-ws rejects with the GraphQL errors array, or with the close event.
    const message = Array.isArray(error) ? error[0]?.message : (error?.reason ?? error?.message);
    renderSlowQueries({ errors: [{ message: String(message ?? error) }] });
  }
}

function connect() {
  for (const stop of stops) stop();
  stops = [];
  clearInterval(slowTimer);
  client?.dispose();
  const token = sessionStorage.getItem(TOKEN_KEY);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  setStatus('connecting', 'connecting…');
  client = createClient({
    url,
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    connectionParams: () => (token ? { authorization: `Bearer ${token}` } : {}),
    shouldRetry: (event) => event?.code !== UNAUTHORIZED && event?.code !== FORBIDDEN,
    onNonLazyError: () => undefined,
    on: {
      connected: () => {
        setStatus('connected', 'live');
        $('token-form').hidden = true;
      },
      closed: (event) => {
        if (event?.code === UNAUTHORIZED) {
          setStatus('closed', 'token needed');
          askForToken(
            token
              ? 'That token was refused. Enter a valid API token.'
              : 'This poolpilot requires an API token (viewer or above).',
          );
        } else {
          setStatus('closed', 'disconnected, retrying…');
        }
      },
    },
  });
  stops = [subscribe(POOL, onPool), subscribe(CPU, onCpu), subscribe(STATES, onStates)];
  refreshSlowQueries();
  slowTimer = setInterval(refreshSlowQueries, 5_000);
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  connect();
});
$('interval').addEventListener('change', connect);
connect();

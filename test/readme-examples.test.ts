import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/embedded/index.js';
import { eventually } from './harness/database.js';
import { graphqlExamples, readmeBlocks, shellExamples } from './harness/readme-examples.js';

const README = path.resolve(import.meta.dirname, '..', 'README.md');
const blocks = readmeBlocks(README);
const graphql = graphqlExamples(blocks);
const shell = shellExamples(blocks);

// The guide's own example query (CONNECTION_POOL_GUIDE.md), expected to come out heavy.
const GUIDE_QUERY =
  'SELECT * FROM users JOIN orders ON users.id = orders.user_id WHERE orders.total > 100 GROUP BY users.id ORDER BY orders.total DESC';

/**
 * Every example in README.md, run as written against a fresh `npm start` with nothing configured
 * (embedded PostgreSQL, demo tables seeded on first start): a reader's first hour.
 */
describe('README examples on a fresh start', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let output = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'poolpilot-readme-'));
    await chmod(dir, 0o755); // the PostgreSQL OS user (when run as root) must reach it
    port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        WIRE_PORT: '0', // several services may run at once here
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        EMBEDDED_PG_DATA: path.join(dir, 'data'),
        EMBEDDED_PG_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await eventually(() => output.includes('poolpilot listening'), 110_000, 100);
  });

  afterAll(async () => {
    // SIGTERM lets poolpilot stop its embedded PostgreSQL; SIGKILL only if that takes too long.
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      const timer = setTimeout(() => child!.kill('SIGKILL'), 20_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the examples by their code fences', () => {
    expect(graphql.length).toBeGreaterThanOrEqual(8);
    expect(shell.length).toBeGreaterThanOrEqual(3);
    expect(graphql.flatMap((g) => g.fields)).toEqual(
      expect.arrayContaining(['analyzeQuery', 'executeQuery', 'executeTransaction']),
    );
  });

  it.each(graphql.map((g) => [`line ${g.line}: ${g.kind} ${g.fields.join(', ')}`, g] as const))(
    'README %s',
    async (_name, example) => {
      const result =
        example.kind === 'subscription' ? await firstEvent(example.source) : await post(example.source);
      expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      expect(result.data).toBeTruthy();
      for (const field of example.fields) expect(result.data![field], field).toBeTruthy();
      if (example.fields.includes('executeQuery'))
        expect((result.data!.executeQuery as { rowCount: number }).rowCount).toBeGreaterThan(0);
      if (example.fields.includes('executeTransaction'))
        expect(result.data!.executeTransaction).toEqual({ results: [{ rowCount: 1 }, { rowCount: 1 }] });
    },
  );

  it.each(shell.map((s) => [`line ${s.line}`, s] as const))('README curl block at %s', (_name, example) => {
    // Streams (SSE) are cut after a few seconds (curl's exit 28); any other failure fails the block.
    const script = [
      'curl() { command curl --max-time 5 "$@"; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 28 ] || exit $rc; echo; }',
      example.source.replace(/(127\.0\.0\.1|localhost):3338/g, `127.0.0.1:${port}`),
    ].join('\n');
    const run = spawnSync('bash', ['-c', script], {
      env: { PATH: process.env.PATH, OPERATOR_TOKEN: 'unused-without-api-tokens' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).not.toBe('');
    expect(run.stdout).not.toMatch(/"errors"/);
    for (const line of run.stdout.split('\n').filter((l) => l.startsWith('{')))
      expect(() => JSON.parse(line), line).not.toThrow();
  });

  it("scores the guide's example query HIGH or CRITICAL and routes it COMPLEX", async () => {
    const analyze = graphql.find((g) => g.fields.includes('analyzeQuery') && g.source.includes(GUIDE_QUERY));
    expect(analyze, 'the README analyzes the guide query').toBeDefined();
    const { data } = await post(analyze!.source);
    const analysis = data!.analyzeQuery as { severity: string; route: string; complexity: number };
    expect(['HIGH', 'CRITICAL']).toContain(analysis.severity);
    expect(analysis.route).toBe('COMPLEX');
  });

  async function post(query: string) {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  }

  /** A subscription over Server-Sent Events: its first sample, then the stream is closed. */
  async function firstEvent(query: string) {
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query }),
      signal: abort.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended without an event: ${text}`);
        text += value;
        const data = /^data: (.+)$/m.exec(text);
        if (data) return JSON.parse(data[1]!) as { data?: Record<string, unknown>; errors?: unknown[] };
      }
    } finally {
      abort.abort();
    }
  }
});

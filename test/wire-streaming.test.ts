import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type RunningWire, useWire } from './harness/wire.js';

const MB = 1024 * 1024;
/** 200 MB of row data: 20,480 rows of 10 KB. */
const ROWS = 20_480;
const ROW_BYTES = 10 * 1024;
const RESULT_BYTES = ROWS * ROW_BYTES;
const result = (rows: number) =>
  `SELECT g, repeat(chr(97 + g % 26), ${ROW_BYTES}) AS t FROM generate_series(1, ${rows}) g`;
/**
 * Growth of the front's process allowed while the result passes through. Resident memory also
 * holds what the garbage collector and malloc have not given back yet: measured here at 30-70 MB
 * for any result from 50 MB to 300 MB, so the bound is half the result; live memory (JS heap and
 * buffers) is bounded tighter.
 */
const MAX_RSS_GROWTH = RESULT_BYTES / 2;
const MAX_LIVE_GROWTH = 60 * MB;
const READER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'slow-reader.mjs');

interface Read {
  rows: number;
  bytes: number;
  ordered: boolean;
  usable: boolean;
}

const live = (m: NodeJS.MemoryUsage) => m.heapUsed + m.arrayBuffers;

/**
 * Runs the slow reader in a child process and samples, meanwhile, the memory of this process
 * (which hosts poolpilot and its front, and nothing of the client) and the bytes the front holds
 * unsent for its clients.
 */
async function slowRead(front: RunningWire, mode: 'cursor' | 'flowing', rows = ROWS) {
  const before = process.memoryUsage();
  const peak = { rss: before.rss, live: live(before), unsent: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.live = Math.max(peak.live, live(m));
    for (const s of front.surface.proxy.sessions())
      peak.unsent = Math.max(peak.unsent, s.client.socket.writableLength);
  };
  const timer = setInterval(sample, 10);
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [READER, JSON.stringify({ connection: front.connection, sql: result(rows), mode })],
        { timeout: 50_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    sample();
    return {
      read: JSON.parse(stdout) as Read,
      rssGrowth: peak.rss - before.rss,
      liveGrowth: peak.live - live(before),
      unsent: peak.unsent,
    };
  } finally {
    clearInterval(timer);
  }
}

describe('wire front: a 200 MB result to a slow reader', () => {
  const wire = useWire({ DB_POOL_SIZE: '3', DB_POOL_MIN: '1' }, { prefix: 'pp_wstream' });
  const whole = { rows: ROWS, bytes: RESULT_BYTES, ordered: true, usable: true };
  beforeAll(async () => {
    // What a first client and a first statement shape cost once (analyzer, pools) is not measured.
    for (const mode of ['cursor', 'flowing'] as const) await slowRead(wire.front, mode, 10);
  });

  it('streams it through pg-query-stream, sleeping between reads, with memory flat', async () => {
    const m = await slowRead(wire.front, 'cursor');
    expect(m.read).toEqual(whole);
    expect(m.rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    expect(m.liveGrowth).toBeLessThan(MAX_LIVE_GROWTH);
    expect(m.unsent).toBeLessThan(16 * MB);
  });

  it('holds back the server, not the rows, when a client reading a flowing result pauses', async () => {
    const m = await slowRead(wire.front, 'flowing');
    expect(m.read).toEqual(whole);
    expect(m.rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    expect(m.liveGrowth).toBeLessThan(MAX_LIVE_GROWTH);
    // What the front queued for the client stays within a few socket buffers.
    expect(m.unsent).toBeLessThan(16 * MB);
  });
});

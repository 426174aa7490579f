import { describe, expect, it } from 'vitest';
import { Histogram, lsnDiff, parseLsn, WindowedHistogram } from '../src/core/pool/index.js';

describe('Histogram', () => {
  it('reports percentiles within 1% of the exact ones', () => {
    const h = new Histogram();
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) * 0.1); // 0.1 .. 1000 ms
    for (const v of values) h.record(v);
    const exact = (p: number) => values[Math.ceil((p / 100) * values.length) - 1]!;
    for (const p of [50, 95, 99]) {
      expect(Math.abs(h.percentile(p) - exact(p)) / exact(p)).toBeLessThanOrEqual(0.01);
    }
    expect(h.summary()).toMatchObject({ count: 10_000, maxMs: 1000 });
    expect(h.summary().meanMs).toBeCloseTo(500.05, 5);
  });

  it('is empty before any sample and merges', () => {
    const a = new Histogram();
    expect(a.summary()).toEqual({ count: 0, meanMs: 0, maxMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0 });
    const b = new Histogram();
    b.record(5);
    a.record(1);
    a.merge(b);
    expect(a.summary()).toMatchObject({ count: 2, maxMs: 5 });
  });

  it('ages samples out of the window', () => {
    let now = 0;
    const w = new WindowedHistogram(1_000, () => now);
    w.record(100);
    now = 1_500; // one rotation: still counted
    w.record(1);
    expect(w.summary().count).toBe(2);
    now = 2_600; // the 100 ms sample is two windows old
    expect(w.summary()).toMatchObject({ count: 1, maxMs: 1 });
    now = 10_000;
    expect(w.summary().count).toBe(0);
    expect(w.lifetimeCount).toBe(2);
  });
});

describe('LSN arithmetic', () => {
  it('parses and diffs WAL positions across the 32-bit boundary', () => {
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('1/0')).toBe(1n << 32n);
    expect(lsnDiff('1/10', '0/FFFFFFF0')).toBe(0x20);
    expect(lsnDiff('0/10', '0/20')).toBe(0);
    expect(lsnDiff(null, '0/1')).toBeNull();
  });
});

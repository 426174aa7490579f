import { Histogram } from '../src/core/pool/index.js';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * `clients` loops, each sending one request after the other for `seconds` (after `warmupSeconds`
 * not counted), all the same request: closed-loop load, as 32 application workers would send it.
 */
export async function closedLoop(
  request: (i: number) => Promise<unknown>,
  options: {
    clients: number;
    seconds: number;
    warmupSeconds: number;
    /** Called as measuring starts and ends (e.g. to read CPU counters over exactly that window). */
    onMeasure?: (phase: 'start' | 'end') => void;
  },
): Promise<LoadResult> {
  const histogram = new Histogram();
  let measuring = false;
  let stop = false;
  let errors = 0;
  let firstError: unknown = null;
  let counter = 0;
  const loop = async () => {
    while (!stop) {
      const started = performance.now();
      try {
        await request(counter++);
        if (measuring) histogram.record(performance.now() - started);
      } catch (error) {
        if (measuring) errors += 1;
        firstError ??= error;
      }
    }
  };
  const loops = Array.from({ length: options.clients }, loop);
  await sleep(options.warmupSeconds * 1000);
  options.onMeasure?.('start');
  measuring = true;
  const started = performance.now();
  await sleep(options.seconds * 1000);
  measuring = false;
  options.onMeasure?.('end');
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  if (errors > 0) console.warn(`  ${errors} errors, first: ${(firstError as Error)?.message}`);
  const s = histogram.summary();
  return {
    requests: s.count,
    errors,
    seconds,
    throughput: s.count / seconds,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    meanMs: s.meanMs,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

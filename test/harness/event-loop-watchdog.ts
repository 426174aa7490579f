import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect } from 'vitest';

/**
 * A test worker whose event loop stops turning (a synchronous or microtask loop) never reaches
 * its timeouts: vitest waits on it until the heap runs out, without saying where. This watchdog,
 * on its own thread, notices a main thread silent for BLOCKED_MS, names the file and the test
 * that were running, and ends the worker, so the run fails within a minute and says where.
 */
const BLOCKED_MS = 45_000;
const KEY = Symbol.for('poolpilot.test.watchdog');

const globals = globalThis as { [KEY]?: Worker };
globals[KEY] ??= start();
const watchdog = globals[KEY];
// Hooks per file (this module runs again for each one); the watchdog is one per worker process.
const where = () => expect.getState().testPath ?? 'a test file';
beforeEach(() => watchdog.postMessage(`${where()}, "${expect.getState().currentTestName ?? 'a test'}"`));
afterEach(() => watchdog.postMessage(`${where()}, after a test (hooks, teardown)`));

function start(): Worker {
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const seconds = () => Math.floor(performance.now() / 1000);
  Atomics.store(beat, 0, seconds());
  setInterval(() => Atomics.store(beat, 0, seconds()), 1000).unref();

  // fs.writeSync on fd 2: a worker thread's process.stderr is written by the main thread, which
  // is the one that is stuck.
  const watchdog = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { writeSync } = require('node:fs');
    const { beat, blockedMs } = workerData;
    let test = 'loading a test file';
    parentPort.on('message', (name) => { test = name; });
    const seconds = () => Math.floor(performance.now() / 1000);
    setInterval(() => {
      const silent = seconds() - Atomics.load(beat, 0);
      if (silent * 1000 < blockedMs) return;
      writeSync(2, '\\n[watchdog] the event loop has not turned for ' + silent + ' s, in ' + test +
        '; ending this test worker\\n');
      process.kill(process.pid, 'SIGKILL');
    }, 5000);
    `,
    {
      eval: true,
      workerData: { beat, blockedMs: BLOCKED_MS },
    },
  );
  watchdog.unref();
  return watchdog;
}

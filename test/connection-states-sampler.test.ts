import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConnectionStatesSample } from '../src/core/telemetry/index.js';
import { useTestCore } from './harness/server.js';

describe('connection-state samples', () => {
  const held: pg.Client[] = [];

  const server = useTestCore({ DB_POOL_MIN: '2' });
  afterAll(async () => {
    await Promise.all(held.map((c) => c.end().catch(() => undefined)));
  });

  async function session(applicationName: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: server.url, application_name: applicationName });
    await client.connect();
    held.push(client);
    return client;
  }

  /** Samples until one satisfies `ok` (the sampler keeps running between polls). */
  async function sampleUntil(ok: (s: ConnectionStatesSample) => boolean): Promise<ConnectionStatesSample> {
    const stream = server.poolpilot.telemetry.connectionStates(250);
    const deadline = Date.now() + 20_000;
    let last: ConnectionStatesSample | undefined;
    try {
      while (Date.now() < deadline) {
        const { value } = await stream.next();
        last = value;
        if (value && ok(value)) return value;
      }
      throw new Error(`no matching sample within 20 s; last: ${JSON.stringify(last)}`);
    } finally {
      await stream.return();
    }
  }

  it('shows an idle-in-transaction session with its age, a lock waiter, and tells poolpilot apart', async () => {
    const idler = await session('pp-idler');
    await idler.query('CREATE TABLE held (id int)');
    await idler.query('BEGIN');
    await idler.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    // Idle in transaction from here on, holding the lock.
    const blocked = await session('pp-blocked');
    const waiting = blocked.query('SELECT count(*) FROM held').catch(() => undefined);
    const aborted = await session('pp-aborted');
    await aborted.query('BEGIN');
    await aborted.query('SELECT 1/0').catch(() => undefined);

    const sample = await sampleUntil((s) => {
      const mine = s.byDatabase.find((d) => d.name === server.db.name);
      return (mine?.oldestIdleInTransactionAgeMs ?? 0) >= 1_500 && (mine?.waitingOnLocks ?? 0) >= 1;
    });
    const mine = sample.byDatabase.find((d) => d.name === server.db.name)!;
    expect(sample.error).toBeNull();
    expect(mine.idleInTransaction).toBeGreaterThanOrEqual(1);
    expect(mine.idleInTransactionAborted).toBeGreaterThanOrEqual(1);
    expect(mine.active).toBeGreaterThanOrEqual(1);
    expect(sample.oldestIdleInTransactionAgeMs).toBeGreaterThanOrEqual(1_500);
    expect(sample.oldestTransactionAgeMs).toBeGreaterThanOrEqual(sample.oldestIdleInTransactionAgeMs!);
    expect(sample.byWaitEventType.find((w) => w.type === 'Lock')?.count).toBeGreaterThanOrEqual(1);

    const app = (name: string) => sample.byApplication.find((a) => a.name === name);
    expect(app('pp-idler')).toMatchObject({ own: false, idleInTransaction: 1 });
    expect(app('pp-blocked')).toMatchObject({ own: false, active: 1, waitingOnLocks: 1 });
    expect(app('pp-aborted')).toMatchObject({ own: false, idleInTransactionAborted: 1 });
    // The pool's warm connections (min 2) minus the one taking the sample.
    expect(app('poolpilot')).toMatchObject({ own: true });
    expect(app('poolpilot-health')).toMatchObject({ own: true });
    expect(sample.own.total).toBeGreaterThanOrEqual(1);
    expect(sample.own.total + sample.others.total).toBe(sample.total);

    await idler.query('ROLLBACK');
    await waiting;
  });
});

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENEW_LEASE } from '../src/core/fleet/budget-script.js';
import { startRedis, type TestRedis } from './harness/redis.js';

/**
 * The lease renewal script on its own, in a real Redis, with short times: grants never add up to
 * more than the budget whatever the demand, shares follow demand, a silent instance's share is
 * reclaimed, and after a gap in coordination nobody grows for one lease time.
 */

const LEASE = 400;
const QUIET = 200;
let redis: TestRedis;
let client: Redis & { renew: (...args: (string | number)[]) => Promise<[number, number, number, number]> };
let target = 0;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url) as typeof client;
  client.defineCommand('renew', { numberOfKeys: 4, lua: RENEW_LEASE });
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** A fresh target's keys, and a renew function for it. */
function budget(size: number) {
  const key = `t${++target}`;
  const grants = new Map<string, number>();
  const renew = async (instance: string, demand: number, open = 0) => {
    const [grant, fair, instances, settled] = await client.renew(
      `${key}:held`,
      `${key}:demand`,
      `${key}:expiry`,
      `${key}:clock`,
      instance,
      demand,
      open,
      grants.get(instance) ?? 0,
      size,
      LEASE,
      QUIET,
    );
    grants.set(instance, grant);
    return { grant, fair, instances, settled: settled === 1 };
  };
  const held = async () =>
    Object.values(await client.hgetall(`${key}:held`)).reduce((sum, v) => sum + Number(v), 0);
  return { renew, held, grants };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the lease renewal script', () => {
  it('grants nothing before a fresh budget has settled for one lease time', async () => {
    const b = budget(10);
    const first = await b.renew('a', 5);
    expect(first).toMatchObject({ grant: 0, settled: false, instances: 1 });
    while (!(await b.renew('a', 5)).settled) await pause(50);
    expect(b.grants.get('a')).toBe(10);
  });

  it('shares by demand, at least one each, never more than the budget in all', async () => {
    const b = budget(10);
    const names = ['a', 'b', 'c'];
    const demand: Record<string, number> = { a: 20, b: 5, c: 0 };
    while (!(await b.renew('a', demand.a!)).settled) await pause(50);
    for (let round = 0; round < 6; round++) {
      for (const name of names) {
        await b.renew(name, demand[name]!, Math.min(b.grants.get(name) ?? 0, demand[name]!));
        expect(await b.held()).toBeLessThanOrEqual(10);
        expect([...b.grants.values()].reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(10);
      }
    }
    // 25 wanted (c counts as 1) of 10: one each, the 7 left in proportion to 19, 4 and 0.
    expect(Object.fromEntries(b.grants)).toEqual({ a: 7, b: 2, c: 1 });
  });

  it('keeps the sum within the budget under random demand, with connections closing late', async () => {
    const b = budget(8);
    const names = ['a', 'b', 'c', 'd'];
    const open = new Map<string, number>();
    while (!(await b.renew('a', 1)).settled) await pause(50);
    for (let step = 0; step < 300; step++) {
      const name = names[Math.floor(Math.random() * names.length)]!;
      // An instance's open connections lag its grant: it closes surplus ones only some time later.
      const before = b.grants.get(name) ?? 0;
      const stillOpen = Math.random() < 0.5 ? (open.get(name) ?? 0) : Math.min(open.get(name) ?? 0, before);
      const { grant } = await b.renew(name, Math.floor(Math.random() * 12), stillOpen);
      // Then it may open up to its grant; what it still had open stays until it closes.
      open.set(name, Math.max(stillOpen, Math.floor(Math.random() * (grant + 1))));
      const realOpen = [...open.values()].reduce((x, y) => x + y, 0);
      expect(await b.held()).toBeLessThanOrEqual(8);
      expect(realOpen).toBeLessThanOrEqual(8);
    }
  });

  it('gives the share of an instance that stopped renewing to the others after the lease', async () => {
    const b = budget(6);
    while (!(await b.renew('a', 6)).settled) await pause(50);
    await b.renew('b', 6);
    await b.renew('a', 6);
    await b.renew('b', 6);
    expect(b.grants.get('a')! + b.grants.get('b')!).toBe(6);
    // b goes silent; a keeps renewing.
    let answer = await b.renew('a', 6);
    while (answer.instances > 1) {
      await pause(50);
      answer = await b.renew('a', 6);
    }
    expect(answer.grant).toBe(6);
  });

  it('after a gap in coordination, nobody grows for one lease time', async () => {
    const b = budget(6);
    while (!(await b.renew('a', 1)).settled) await pause(50);
    await b.renew('b', 1);
    const before = { a: b.grants.get('a')!, b: b.grants.get('b')! };
    await pause(QUIET + 100);
    const after = await b.renew('a', 6);
    expect(after.settled).toBe(false);
    expect(after.grant).toBeLessThanOrEqual(before.a);
    while (!(await b.renew('a', 6)).settled) await pause(50);
  });
});

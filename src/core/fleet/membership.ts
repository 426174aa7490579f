import type { Logger } from '../logger.js';
import type { RedisLink } from './redis-link.js';

/** How often an instance says it is alive. */
export const HEARTBEAT_MS = 1_000;
/** An instance not heard from for this long is gone from the list, and its slot is free. */
export const MEMBER_TTL_MS = 4_000;
/** Slots number the instances for the wire front's cancel keys (see cancel-relay.ts). */
export const SLOT_BITS = 10;
export const SLOTS = 2 ** SLOT_BITS;

/** What an instance publishes about itself with every heartbeat. */
export interface MemberReport {
  pools: MemberPool[];
  /** Clients connected through its wire front. */
  clients: number;
}

export interface MemberPool {
  target: string;
  total: number;
  active: number;
  idle: number;
  waiting: number;
  /** Its share of the target's budget: the most connections it may hold now. */
  share: number;
}

export interface Member extends MemberReport {
  name: string;
  /** Its cancel-key slot; null when it has none (Redis was unreachable since it started). */
  slot: number | null;
  startedAt: Date;
  lastSeen: Date;
  /** Whether its heartbeat is current (always true for listed members: stale ones are dropped). */
  alive: boolean;
}

/**
 * Claims slot `preferred` (or the next free one) for ARGV[1], refreshing it when already ours.
 * KEYS[1] is the slot key prefix. Returns the slot, or -1 when every slot is taken.
 */
const CLAIM_SLOT = `
local me = ARGV[1]
local preferred = tonumber(ARGV[2])
local slots = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
for k = 0, slots - 1 do
  local slot = (preferred + k) % slots
  local key = KEYS[1] .. slot
  local owner = redis.call('GET', key)
  if owner == false or owner == me then
    redis.call('SET', key, me, 'PX', ttl)
    return slot
  end
end
return -1
`;

type ClaimCommand = (
  prefix: string,
  me: string,
  preferred: number,
  slots: number,
  ttl: number,
) => Promise<number>;

/**
 * This instance's entry among the live ones: a key with a time to live, refreshed every
 * HEARTBEAT_MS, plus a sorted set of names by last heartbeat to list them. An instance that
 * stops (or is killed) drops out after MEMBER_TTL_MS.
 */
export class Membership {
  readonly name: string;
  readonly startedAt = new Date();
  readonly #link: RedisLink;
  readonly #report: () => MemberReport;
  readonly #log: Logger;
  #slot: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #slotListeners = new Set<(slot: number | null) => void>();

  constructor(link: RedisLink, name: string, report: () => MemberReport, log: Logger) {
    this.#link = link;
    this.name = name;
    this.#report = report;
    this.#log = log;
    link.redis.defineCommand('poolpilotClaimSlot', { numberOfKeys: 1, lua: CLAIM_SLOT });
  }

  /** The cancel-key slot this instance holds; null until Redis granted one. */
  get slot(): number | null {
    return this.#slot;
  }

  /** Told when the slot changes (first claimed, or lost to another instance while Redis was away). */
  onSlot(listener: (slot: number | null) => void): void {
    this.#slotListeners.add(listener);
  }

  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (!this.#link.up) return;
    // Leave at once rather than after the time to live.
    const redis = this.#link.redis;
    await Promise.all([
      redis.del(`instance:${this.name}`),
      redis.zrem('instances', this.name),
      this.#slot === null ? null : redis.eval(RELEASE_SLOT, 1, `slot:${this.#slot}`, this.name),
    ]).catch(() => undefined);
  }

  async beat(): Promise<void> {
    if (!this.#link.up) return;
    const redis = this.#link.redis;
    try {
      const claim = (redis as unknown as { poolpilotClaimSlot: ClaimCommand }).poolpilotClaimSlot;
      const preferred = this.#slot ?? Math.floor(Math.random() * SLOTS);
      const slot = await claim.call(redis, 'slot:', this.name, preferred, SLOTS, MEMBER_TTL_MS);
      this.#setSlot(slot < 0 ? null : slot);
      const now = Date.now();
      const record = {
        ...this.#report(),
        name: this.name,
        slot: this.#slot,
        startedAt: this.startedAt.toISOString(),
        lastSeen: new Date(now).toISOString(),
      };
      await redis
        .multi()
        .set(`instance:${this.name}`, JSON.stringify(record), 'PX', MEMBER_TTL_MS)
        .zadd('instances', now, this.name)
        .zremrangebyscore('instances', '-inf', now - 10 * MEMBER_TTL_MS)
        .exec();
    } catch (error) {
      this.#log.debug({ err: error }, 'heartbeat failed');
    }
  }

  /** The live instances, this one included, by name; empty when Redis is unreachable. */
  async members(): Promise<Member[]> {
    if (!this.#link.up) return [];
    const redis = this.#link.redis;
    const names = await redis.zrangebyscore('instances', Date.now() - MEMBER_TTL_MS * 2, '+inf');
    if (names.length === 0) return [];
    const records = await redis.mget(...names.map((n) => `instance:${n}`));
    const members: Member[] = [];
    for (const raw of records) {
      if (!raw) continue;
      const record = JSON.parse(raw) as MemberReport & {
        name: string;
        slot: number | null;
        startedAt: string;
        lastSeen: string;
      };
      members.push({
        ...record,
        startedAt: new Date(record.startedAt),
        lastSeen: new Date(record.lastSeen),
        alive: true,
      });
    }
    return members.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** This instance as the others see it, from local figures. */
  self(): Member {
    return {
      ...this.#report(),
      name: this.name,
      slot: this.#slot,
      startedAt: this.startedAt,
      lastSeen: new Date(),
      alive: true,
    };
  }

  #setSlot(slot: number | null): void {
    if (slot === this.#slot) return;
    if (this.#slot !== null) {
      this.#log.warn(
        { from: this.#slot, to: slot },
        'cancel-key slot changed (taken while Redis was away): cancels of older wire clients may not be forwarded',
      );
    }
    this.#slot = slot;
    for (const listener of this.#slotListeners) listener(slot);
  }
}

/** Frees a slot only when it is still ours. */
const RELEASE_SLOT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { SLOT_BITS, SLOTS } from './membership.js';
import type { RedisLink } from './redis-link.js';

/** The low bits of a fleet cancel key's process id are random; the high ones name the instance. */
const RANDOM_BITS = 31 - SLOT_BITS;

/** A wire client's BackendKeyData process id that says which instance holds it (slot in the high bits). */
export function processIdFor(slot: number, random: number): number {
  const low = random & (2 ** RANDOM_BITS - 1);
  return slot * 2 ** RANDOM_BITS + (low === 0 ? 1 : low);
}

/** The instance slot a process id was issued by. */
export function slotOf(processId: number): number {
  return Math.floor(processId / 2 ** RANDOM_BITS) % SLOTS;
}

const channel = (slot: number) => `poolpilot:cancel:${slot}`;

/**
 * Cluster-wide cancel for the wire front. A client's CancelRequest travels on a new connection,
 * which a load balancer may send to any instance; the process id says which instance holds the
 * client (its slot), so one that does not know the client publishes the request on that slot's
 * channel, and the holder checks the secret and cancels. PgBouncer's `peers` forwards over TCP to
 * the peer's port instead; Redis is already shared by every instance and needs no addresses.
 */
export class CancelRelay {
  readonly #link: RedisLink;
  readonly #subscriber: Redis;
  readonly #log: Logger;
  #slot: number | null = null;
  #subscribed: number | null = null;
  #deliver: ((processId: number, secretKey: number) => void) | null = null;
  forwarded = 0;
  received = 0;

  constructor(link: RedisLink, log: Logger) {
    this.#link = link;
    this.#log = log;
    this.#subscriber = link.duplicate();
    this.#subscriber.on('error', () => undefined);
    this.#subscriber.on('ready', () => void this.#subscribe());
    this.#subscriber.on('message', (_channel: string, message: string) => {
      const [pid, secret] = message.split(':').map(Number);
      if (!Number.isInteger(pid) || !Number.isInteger(secret)) return;
      this.received += 1;
      this.#deliver?.(pid!, secret!);
    });
  }

  /** Where cancel requests for this instance's clients are handed (the wire front's own matcher). */
  onCancel(deliver: (processId: number, secretKey: number) => void): void {
    this.#deliver = deliver;
  }

  async start(): Promise<void> {
    await this.#subscriber.connect().catch(() => undefined);
  }

  /** This instance's slot changed: listen on its channel. */
  setSlot(slot: number | null): void {
    this.#slot = slot;
    void this.#subscribe();
  }

  /**
   * A CancelRequest for a client this instance does not hold. Sent on to its instance; dropped
   * when the id is this instance's own (the client is gone) or Redis is unreachable.
   */
  forward(processId: number, secretKey: number): void {
    const slot = slotOf(processId);
    if (slot === this.#slot || !this.#link.up) return;
    this.forwarded += 1;
    this.#link.redis.publish(channel(slot), `${processId}:${secretKey}`).catch((error: Error) => {
      this.#log.debug({ err: error }, 'cancel forward failed');
    });
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect(false);
  }

  async #subscribe(): Promise<void> {
    const slot = this.#slot;
    if (slot === this.#subscribed || this.#subscriber.status !== 'ready') return;
    try {
      if (this.#subscribed !== null) await this.#subscriber.unsubscribe(channel(this.#subscribed));
      this.#subscribed = null;
      if (slot !== null) {
        await this.#subscriber.subscribe(channel(slot));
        this.#subscribed = slot;
      }
    } catch (error) {
      this.#log.debug({ err: error }, 'cancel channel subscription failed');
    }
  }
}

import { type DocumentNode, type ExecutionResult, print } from 'graphql';
import WebSocket from 'ws';
import type { Audience } from '../core/telemetry/index.js';
import type { Viewer } from '../graphql/context.js';

/**
 * Multiplexed subscriptions, as Hasura multiplexes live queries: subscriptions with the same
 * document, variables and role form one group; each sample is executed through GraphQL once for
 * the group and serialized once, and the same bytes go to every member's socket. Executing per
 * subscriber cost about 120 µs a sample each, over a second of one core per interval at 10,000.
 *
 * A member holds at most one frame its socket has not taken yet (the newest): a reader slower than
 * the interval gets the latest sample, never a backlog, and never slows the group or its peers.
 */

/** Sockets written to before the fan-out yields to the event loop. */
const FAN_OUT_SLICE = 500;

/** What a group's one execution depends on: the operation, its variables and who asks. */
export function groupKey(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  viewer: Viewer | undefined,
): string {
  const who = viewer ? `${viewer.authEnabled ? 'auth' : 'open'}:${viewer.role ?? '-'}` : 'unknown';
  return JSON.stringify([who, operationName ?? null, variables ?? {}, print(document)]);
}

/** Starts the group's one GraphQL subscription, with a context carrying the group as its audience. */
export type StartGroup = (
  audience: Audience,
  signal: AbortSignal,
) => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;

export class SubscriptionGroups {
  readonly #groups = new Map<string, Promise<Group | ExecutionResult>>();

  /**
   * Joins `socket`'s subscription `id` to the group for `key`, starting the group when it is the
   * first. Returns what graphql-ws iterates for this subscription (it yields nothing: frames go to
   * the socket directly) or, when the operation could not start, its error result.
   */
  async join(
    key: string,
    socket: WebSocket,
    id: string,
    start: StartGroup,
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    for (;;) {
      let pending = this.#groups.get(key);
      if (!pending) {
        const group = new Group(() => {
          if (this.#groups.get(key) === pending) this.#groups.delete(key);
        });
        pending = start(group, group.signal).then(
          (result) => {
            if (isAsyncIterable(result)) {
              group.run(result[Symbol.asyncIterator]());
              return group;
            }
            // Refused (e.g. FORBIDDEN): not a group; later subscribers try for themselves.
            if (this.#groups.get(key) === pending) this.#groups.delete(key);
            return result;
          },
          (error: unknown) => {
            if (this.#groups.get(key) === pending) this.#groups.delete(key);
            throw error;
          },
        );
        this.#groups.set(key, pending);
      }
      const resolved = await pending;
      if (!(resolved instanceof Group)) return resolved;
      // Its last member left while this one waited: start a fresh group.
      if (resolved.closed) continue;
      return resolved.add(socket, id);
    }
  }
}

class Group implements Audience {
  readonly #members = new Set<Member>();
  readonly #controller = new AbortController();
  readonly #onClose: () => void;
  #source: AsyncIterator<ExecutionResult> | null = null;
  #latest: string | null = null;
  #closed = false;
  delivered = 0;
  superseded = 0;

  constructor(onClose: () => void) {
    this.#onClose = onClose;
  }

  get size(): number {
    return this.#members.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  add(socket: WebSocket, id: string): Member {
    const member = new Member(this, socket, id);
    this.#members.add(member);
    // A late joiner gets the group's newest sample at once, as a sampler's late joiner does.
    if (this.#latest !== null) member.offer(this.#latest);
    return member;
  }

  remove(member: Member): void {
    if (!this.#members.delete(member)) return;
    if (this.#members.size === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#controller.abort();
    void this.#source?.return?.();
  }

  run(source: AsyncIterator<ExecutionResult>): void {
    this.#source = source;
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await source.next();
          if (done || this.#closed) break;
          // Serialized once for every member: the ws layer sends these bytes as they are.
          const json = JSON.stringify(value);
          this.#latest = json;
          // In slices, yielding between them: 10,000 sends take 100–200 ms of CPU, which HTTP
          // requests, the wire front and lease renewals should not have to wait behind.
          let sent = 0;
          for (const member of [...this.#members]) {
            member.offer(json);
            if (++sent % FAN_OUT_SLICE === 0) await new Promise(setImmediate);
          }
        }
        for (const member of [...this.#members]) member.end(null);
      } catch (error) {
        for (const member of [...this.#members]) member.end(error);
      } finally {
        this.close();
      }
    })();
  }
}

/**
 * One subscription in a group, as graphql-ws sees it: an iterator that yields nothing and ends
 * when the group ends (or rejects when it fails), so graphql-ws still sends `complete`/`error`,
 * applies `complete` from the client and cleans up on close.
 */
class Member implements AsyncIterableIterator<ExecutionResult> {
  readonly #group: Group;
  readonly #socket: WebSocket;
  readonly #prefix: string;
  #sending = false;
  #pending: string | null = null;
  #ended = false;
  #waiter: { resolve: (r: IteratorResult<ExecutionResult>) => void; reject: (e: unknown) => void } | null =
    null;
  #failure: { error: unknown } | null = null;

  constructor(group: Group, socket: WebSocket, id: string) {
    this.#group = group;
    this.#socket = socket;
    this.#prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  offer(json: string): void {
    if (this.#ended || this.#socket.readyState !== WebSocket.OPEN) return;
    if (this.#sending) {
      if (this.#pending !== null) this.#group.superseded += 1;
      this.#pending = json;
      return;
    }
    this.#write(json);
  }

  #write(json: string): void {
    this.#sending = true;
    this.#group.delivered += 1;
    // The callback comes once the kernel took the frame: until then newer samples replace one another.
    this.#socket.send(`${this.#prefix}${json}}`, (error) => {
      this.#sending = false;
      const next = this.#pending;
      this.#pending = null;
      if (next !== null && !error) this.offer(next);
    });
  }

  /** The group ended (null) or failed. */
  end(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending = null;
    if (error !== null) this.#failure = { error };
    const waiter = this.#waiter;
    this.#waiter = null;
    if (!waiter) return;
    if (error !== null) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.end(null);
    this.#group.remove(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

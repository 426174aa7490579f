/**
 * Every client connected through a surface that holds server connections on its behalf (the wire
 * front), with what it is doing now, and the traffic per target in PgBouncer's SHOW STATS terms.
 * Surfaces report here; the control plane (GraphQL, metrics, the admin console) reads from here.
 */

export type ClientState = 'idle' | 'active' | 'waiting';

export interface ClientInfo {
  id: number;
  surface: 'wire';
  user: string;
  database: string;
  applicationName: string;
  address: string;
  port: number;
  connectedAt: Date;
  state: ClientState;
  /** The target whose connection the client holds now. */
  target: string | null;
  /** How long its current transaction (unit of work) has run, in ms; null when idle. */
  transactionAgeMs: number | null;
  /** How long it has waited for a connection so far, in ms; null when not waiting. */
  waitMs: number | null;
  /** When its latest unit of work started (its latest request that needed a server). */
  lastRequestAt: Date | null;
  /** Named prepared statements the client holds now (PgBouncer's prepared_statements). */
  preparedStatements: number;
}

/** PgBouncer's SHOW STATS counters, since start-up (times in microseconds, as PgBouncer has them). */
export interface TrafficCounters {
  /** Times a client was given a server connection: server_assignment_count. */
  assignments: number;
  /** Units of work (transactions, or statements outside one) completed: xact_count. */
  transactions: number;
  /** Statements sent (Query and Execute messages): query_count. */
  statements: number;
  /** Time spent in transactions: xact_time. */
  transactionTimeUs: number;
  /** Time from a request to its answer: query_time. */
  statementTimeUs: number;
  /** Time clients waited for a connection: wait_time. */
  waitTimeUs: number;
  /** Bytes from clients to servers: bytes_received. */
  bytesReceived: number;
  /** Bytes from servers to clients: bytes_sent. */
  bytesSent: number;
}

export interface ClientSummary {
  total: number;
  active: number;
  waiting: number;
  idle: number;
  /** The longest current wait for a connection, in ms (PgBouncer's maxwait). */
  maxWaitMs: number;
}

/** One client's entry; the surface keeps it current and closes it when the client goes. */
export class ClientRecord {
  readonly id: number;
  readonly info: Omit<
    ClientInfo,
    'id' | 'state' | 'target' | 'transactionAgeMs' | 'waitMs' | 'lastRequestAt' | 'preparedStatements'
  >;
  state: ClientState = 'idle';
  target: string | null = null;
  unitStartedAt: number | null = null;
  waitingSince: number | null = null;
  /** Date.now() when its latest unit of work started; 0 before the first. */
  lastRequestAt = 0;
  /** Counts the client's named prepared statements; the surface that keeps them sets it. */
  preparedStatements: () => number = () => 0;
  readonly #registry: ClientRegistry;
  readonly #kill: ((reason: string) => void) | null;

  constructor(
    registry: ClientRegistry,
    id: number,
    info: ClientRecord['info'],
    kill: ((reason: string) => void) | null,
  ) {
    this.#registry = registry;
    this.id = id;
    this.info = info;
    this.#kill = kill;
  }

  /** The client waits for a connection. */
  waiting(): void {
    this.state = 'waiting';
    this.waitingSince = performance.now();
    this.lastRequestAt = Date.now();
  }

  /** Disconnects the client (the surface closes it with 57P01); false when it cannot be. */
  kill(reason: string): boolean {
    if (!this.#kill) return false;
    this.#kill(reason);
    return true;
  }

  /** The client got a connection of `target`: its unit of work starts. */
  placed(target: string): void {
    const now = performance.now();
    const traffic = this.#registry.traffic(target);
    traffic.assignments += 1;
    if (this.waitingSince !== null) traffic.waitTimeUs += (now - this.waitingSince) * 1000;
    this.state = 'active';
    this.target = target;
    this.unitStartedAt = now;
    this.waitingSince = null;
  }

  /** The unit of work ended (or was refused before it got a connection). */
  done(): void {
    if (this.target !== null && this.unitStartedAt !== null) {
      const traffic = this.#registry.traffic(this.target);
      traffic.transactions += 1;
      traffic.transactionTimeUs += (performance.now() - this.unitStartedAt) * 1000;
    }
    this.state = 'idle';
    this.target = null;
    this.unitStartedAt = null;
    this.waitingSince = null;
  }

  close(): void {
    this.#registry.remove(this);
  }

  snapshot(now = performance.now()): ClientInfo {
    return {
      ...this.info,
      id: this.id,
      state: this.state,
      target: this.target,
      transactionAgeMs: this.unitStartedAt === null ? null : now - this.unitStartedAt,
      waitMs: this.waitingSince === null ? null : now - this.waitingSince,
      lastRequestAt: this.lastRequestAt === 0 ? null : new Date(this.lastRequestAt),
      preparedStatements: this.preparedStatements(),
    };
  }
}

/** A front that accepts clients (the wire listener), as it reports itself. */
export interface FrontStatus {
  name: string;
  listening: boolean;
  /** Where it listens, e.g. postgres://127.0.0.1:6432/app; null when off. */
  url: string | null;
}

export class ClientRegistry {
  readonly #clients = new Map<number, ClientRecord>();
  readonly #fronts = new Map<string, FrontStatus>();
  readonly #traffic = new Map<string, TrafficCounters>();
  #nextId = 1;

  /** `kill` disconnects the client; without it, the client cannot be killed from the control plane. */
  add(info: ClientRecord['info'], kill?: (reason: string) => void): ClientRecord {
    const record = new ClientRecord(this, this.#nextId++, info, kill ?? null);
    this.#clients.set(record.id, record);
    return record;
  }

  get(id: number): ClientRecord | undefined {
    return this.#clients.get(id);
  }

  /** Disconnects client `id`; false when there is no such client (or it cannot be killed). */
  kill(id: number, reason: string): boolean {
    return this.#clients.get(id)?.kill(reason) ?? false;
  }

  /** Disconnects every client that matches; returns how many. */
  killWhere(match: (client: ClientInfo) => boolean, reason: string): number {
    let killed = 0;
    const now = performance.now();
    for (const record of [...this.#clients.values()]) {
      if (match(record.snapshot(now)) && record.kill(reason)) killed += 1;
    }
    return killed;
  }

  remove(record: ClientRecord): void {
    this.#clients.delete(record.id);
  }

  /** The counters of `target`, created at zero on first use. */
  traffic(target: string): TrafficCounters {
    let counters = this.#traffic.get(target);
    if (!counters) {
      counters = zeroTraffic();
      this.#traffic.set(target, counters);
    }
    return counters;
  }

  /** Every target's counters added up. */
  totalTraffic(): TrafficCounters {
    const total = zeroTraffic();
    for (const c of this.#traffic.values())
      for (const key of Object.keys(total) as (keyof TrafficCounters)[]) total[key] += c[key];
    return total;
  }

  /** A front says whether and where it listens. */
  front(status: FrontStatus): void {
    this.#fronts.set(status.name, status);
  }

  fronts(): FrontStatus[] {
    return [...this.#fronts.values()];
  }

  /** Every target's counters, for totals. */
  allTraffic(): Map<string, TrafficCounters> {
    return this.#traffic;
  }

  list(): ClientInfo[] {
    const now = performance.now();
    return [...this.#clients.values()].map((c) => c.snapshot(now));
  }

  summary(target?: string): ClientSummary {
    const now = performance.now();
    const s: ClientSummary = { total: 0, active: 0, waiting: 0, idle: 0, maxWaitMs: 0 };
    for (const c of this.#clients.values()) {
      if (target !== undefined && c.target !== target) continue;
      s.total += 1;
      s[c.state] += 1;
      if (c.waitingSince !== null) s.maxWaitMs = Math.max(s.maxWaitMs, now - c.waitingSince);
    }
    return s;
  }
}

/** Counters of a target no client has used yet. */
export function zeroTraffic(): TrafficCounters {
  return {
    assignments: 0,
    transactions: 0,
    statements: 0,
    transactionTimeUs: 0,
    statementTimeUs: 0,
    waitTimeUs: 0,
    bytesReceived: 0,
    bytesSent: 0,
  };
}

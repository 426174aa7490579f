import type { Analysis, RouteClass } from '../analyzer/index.js';
import { type Cluster, parseLsn, type Target } from '../pool/index.js';
import { formatLsn } from './causal.js';
import type { PendingWrite, ReadYourWrites } from './read-your-writes.js';
import { RouteCounts } from './route-counts.js';

/** Where one statement goes and why: plain data, logged, returned and tested as it is. */
export interface Route {
  class: RouteClass;
  /** The target's name: 'primary', 'replica-1', ... */
  target: string;
  /** COMPLEX statements wait for a slot in the complex-query queue. */
  queued: boolean;
  reason: string;
  /** A read a replica would have served (up, within the lag limit) had one replayed what it needs. */
  wantedReplica?: boolean;
  /** No replica was chosen only because none has replayed the caller's afterLsn yet: waiting may help. */
  awaitingReplay?: boolean;
}

/** Whose read it is and what it must see, besides what the statement itself says. */
export interface RouteNeed {
  /** The session whose writes the read must see (read-your-writes); null: a caller that named none. */
  session: string | null;
  /** A causal token: only a target that has replayed this WAL position may serve the read. */
  afterLsn: bigint | null;
}

const NO_NEED: RouteNeed = { session: null, afterLsn: null };

export interface RouterOptions {
  replicaMaxLagMs: number;
}

/**
 * Fast reads → primary; medium reads → the least busy healthy replica within the lag limit;
 * complex reads → the queue, then a replica the same way; anything that can write or lock, a
 * statement that did not parse, or one with the override comment → the primary.
 */
export class Router {
  readonly #cluster: Cluster;
  readonly #options: RouterOptions;
  readonly #freshness: ReadYourWrites;
  /** Routes taken; the session adds each final one (decide may run twice for a queued read). */
  readonly taken = new RouteCounts();

  constructor(cluster: Cluster, options: RouterOptions, freshness: ReadYourWrites) {
    this.#cluster = cluster;
    this.#options = options;
    this.#freshness = freshness;
  }

  decide(analysis: Analysis, need: RouteNeed = NO_NEED): Route {
    const queued = analysis.route === 'COMPLEX' && analysis.writes === false;
    const primary = (reason: string): Route => ({
      class: analysis.route,
      target: this.#cluster.writerName(),
      queued,
      reason,
    });
    if (analysis.parseError)
      return { ...primary('did not parse: the primary reports the error'), queued: false };
    // Unknown (null) is a write: only a statement known not to write may leave the primary.
    if (analysis.writes !== false) return { ...primary(analysis.writeReasons[0] ?? 'writes'), queued: false };
    if (analysis.forcedPrimary) return primary('/* poolpilot:primary */ asks for the primary');
    if (analysis.route === 'FAST') return primary('fast read');
    return this.#replicaOrPrimary(analysis, queued, need);
  }

  #replicaOrPrimary(analysis: Analysis, queued: boolean, need: RouteNeed): Route {
    const label = analysis.route === 'COMPLEX' ? 'complex read' : 'medium read';
    const fallback = (why: string): Route => ({
      class: analysis.route,
      target: this.#cluster.writerName(),
      queued,
      reason: `${label} on the primary: ${why}`,
    });
    // Who reports being a standby now, not who was configured as one.
    const replicas = this.#cluster.readers();
    if (replicas.length === 0) return fallback('no replica configured');
    const healthy = replicas.filter((r) => r.isUp);
    if (healthy.length === 0) return { ...fallback('no replica is up'), wantedReplica: true };
    const current = healthy.filter((r) => this.#lagOk(r));
    if (current.length === 0)
      return {
        ...fallback(`every replica lags more than ${this.#options.replicaMaxLagMs} ms or has paused replay`),
        wantedReplica: true,
      };
    const { afterLsn } = need;
    const caughtUp =
      afterLsn === null
        ? current
        : current.filter((r) => (parseLsn(r.replication?.replayLsn) ?? -1n) >= afterLsn);
    if (caughtUp.length === 0)
      return {
        ...fallback(`no replica has replayed afterLsn ${formatLsn(afterLsn!)} yet`),
        wantedReplica: true,
        awaitingReplay: true,
      };
    let blocked: PendingWrite | null = null;
    const fresh = caughtUp.filter((r) => {
      const pending = this.#freshness.pending(
        need.session,
        analysis.tables,
        r.replication?.replayLsn ?? null,
      );
      blocked ??= pending;
      return pending === null;
    });
    if (fresh.length === 0) {
      const b = blocked as PendingWrite | null;
      const by = this.#freshness.mode === 'global' ? '' : ' by this session';
      return {
        ...fallback(
          `read-your-writes: ${b?.table} was written ${Math.round(b?.ageMs ?? 0)} ms ago${by} and no replica has replayed it yet`,
        ),
        wantedReplica: true,
      };
    }
    const chosen = this.#leastBusy(fresh);
    return { class: analysis.route, target: chosen.name, queued, reason: `${label} on a replica` };
  }

  #lagOk(replica: Target): boolean {
    const r = replica.replication;
    if (!r || r.lagMs === null) return false;
    if (r.replayPaused && (r.lagBytes ?? 0) > 0) return false;
    return r.lagMs <= this.#options.replicaMaxLagMs;
  }

  /**
   * The replica with the least load (leased connections and waiting callers per connection
   * allowed, as its pool counts them); a tie goes to the first, so the same inputs always give
   * the same answer and a caller that only asks (analyzeQuery) changes nothing.
   */
  #leastBusy(replicas: Target[]): Target {
    let best = replicas[0]!;
    for (const replica of replicas) if (replica.pool.load < best.pool.load) best = replica;
    return best;
  }
}

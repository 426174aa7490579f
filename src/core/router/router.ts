import type { Analysis, RouteClass } from '../analyzer/index.js';
import type { Cluster, Target } from '../pool/index.js';
import type { ReadYourWrites } from './read-your-writes.js';

/** Where one statement goes and why: plain data, logged, returned and tested as it is. */
export interface Route {
  class: RouteClass;
  /** The target's name: 'primary', 'replica-1', ... */
  target: string;
  /** COMPLEX statements wait for a slot in the complex-query queue. */
  queued: boolean;
  reason: string;
}

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

  constructor(cluster: Cluster, options: RouterOptions, freshness: ReadYourWrites) {
    this.#cluster = cluster;
    this.#options = options;
    this.#freshness = freshness;
  }

  decide(analysis: Analysis): Route {
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
    return this.#replicaOrPrimary(analysis, queued);
  }

  #replicaOrPrimary(analysis: Analysis, queued: boolean): Route {
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
    if (healthy.length === 0) return fallback('no replica is up');
    const current = healthy.filter((r) => this.#lagOk(r));
    if (current.length === 0)
      return fallback(
        `every replica lags more than ${this.#options.replicaMaxLagMs} ms or has paused replay`,
      );
    let blocked: { table: string; ageMs: number } | null = null;
    const fresh = current.filter((r) => {
      const pending = this.#freshness.pending(analysis.tables, r.replication?.replayLsn ?? null);
      blocked ??= pending;
      return pending === null;
    });
    if (fresh.length === 0) {
      const b = blocked as { table: string; ageMs: number } | null;
      return fallback(
        `read-your-writes: ${b?.table} was written ${Math.round(b?.ageMs ?? 0)} ms ago and no replica has replayed it yet`,
      );
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

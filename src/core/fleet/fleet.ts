import { randomBytes } from 'node:crypto';
import type { FleetSettings } from '../../shared/settings.js';
import type { Analyzer, PlannerVerdict } from '../analyzer/index.js';
import type { ClientRegistry } from '../clients/index.js';
import type { Logger } from '../logger.js';
import type { Cluster, Target } from '../pool/index.js';
import { CancelRelay } from './cancel-relay.js';
import { type BudgetedPool, ConnectionBudget, type ShareState } from './connection-budget.js';
import { type Member, type MemberReport, Membership } from './membership.js';
import { RedisLink, type RedisLinkState } from './redis-link.js';
import { SharedAnalysis } from './shared-analysis.js';

export interface FleetDeps {
  cluster: Cluster;
  analyzer: Analyzer;
  clients: ClientRegistry;
  /** Connections per target across every instance (DB_POOL_SIZE). */
  budget: number;
  log: Logger;
}

export interface FleetState {
  instance: string;
  redis: RedisLinkState;
  /** The cancel-key slot of this instance; null until Redis granted one. */
  slot: number | null;
  shares: ShareState[];
}

/** A server's identity across instances: the same on each, whatever its local name. */
export function targetKey(target: Target): string {
  const { host, port, database } = target.spec.endpoint;
  return `${host}:${port}/${database}`;
}

/** What an instance tells the others about itself: its pools (with its shares) and its clients. */
export function memberReport(
  cluster: Cluster,
  clients: ClientRegistry,
  shares: ShareState[] | null,
): MemberReport {
  return {
    clients: clients.summary().total,
    pools: cluster.targets.map((t, i) => {
      const pool = t.pool.state();
      return {
        target: t.name,
        total: pool.total,
        active: pool.active,
        idle: pool.idle,
        waiting: pool.waiting,
        share: shares ? (shares[i]?.share ?? 0) : pool.max,
      };
    }),
  };
}

/**
 * Several poolpilot instances as one, coordinated through Redis (REDIS_URL): membership, one
 * connection budget per target, cancel requests forwarded to the instance holding the client,
 * and planner verdicts shared. Without Redis there is no Fleet at all: nothing here runs.
 */
export class Fleet {
  readonly name: string;
  readonly link: RedisLink;
  readonly membership: Membership;
  readonly budget: ConnectionBudget;
  readonly cancels: CancelRelay;
  readonly analysis: SharedAnalysis<PlannerVerdict>;
  readonly #log: Logger;

  constructor(settings: FleetSettings, deps: FleetDeps) {
    const log = deps.log.child({ component: 'fleet', instance: settings.instanceName });
    this.#log = log;
    this.name = settings.instanceName;
    this.link = new RedisLink(settings.redisUrl, log);
    const pools: BudgetedPool[] = deps.cluster.targets.map((t) => ({ key: targetKey(t), pool: t.pool }));
    // Leases are held by this process, not its name: two processes given the same INSTANCE_NAME
    // by mistake still get a share each, never one between them.
    const holder = `${this.name}/${randomBytes(6).toString('hex')}`;
    this.budget = new ConnectionBudget(this.link, holder, deps.budget, pools, log);
    this.membership = new Membership(
      this.link,
      this.name,
      () => memberReport(deps.cluster, deps.clients, this.budget.state()),
      log,
    );
    this.cancels = new CancelRelay(this.link, log);
    this.membership.onSlot((slot) => this.cancels.setSlot(slot));
    this.analysis = new SharedAnalysis<PlannerVerdict>(this.link, targetKey(deps.cluster.primary), log);
    deps.analyzer.share(this.analysis);
    // Back after an outage: renew at once rather than at the next tick.
    this.link.onChange((up) => {
      if (!up) return;
      void this.membership.beat();
      void this.budget.renew();
    });
  }

  /** Connects and takes part; resolves even when Redis is unreachable (degraded, no share). */
  async start(): Promise<void> {
    await this.link.connect();
    await Promise.all([this.cancels.start(), this.membership.start(), this.budget.start()]);
    if (!this.link.up) {
      this.#log.warn(
        { reason: this.link.state().reason },
        'redis unreachable at start: no connection share until it answers',
      );
    }
  }

  /** Degraded while Redis is unreachable: shares frozen, cancels and plans not shared. */
  get degraded(): boolean {
    return !this.link.up;
  }

  /** The live instances; while Redis is unreachable, this one alone (the others cannot be seen). */
  async members(): Promise<Member[]> {
    const members = await this.membership.members().catch(() => []);
    if (members.length > 0) return members;
    return [this.membership.self()];
  }

  state(): FleetState {
    return {
      instance: this.name,
      redis: this.link.state(),
      slot: this.membership.slot,
      shares: this.budget.state(),
    };
  }

  /** Leaves the fleet; call once the pools are closed, so their share goes to the others at once. */
  async close(): Promise<void> {
    this.budget.stop();
    await this.budget.release();
    await this.membership.stop();
    await this.cancels.close();
    await this.link.close();
  }
}

import type { Logger } from '../logger.js';
import type { Cluster } from '../pool/index.js';
import { Migrator } from './migrator.js';
import { AuditTrail } from './trail.js';

export { MIGRATIONS, type Migration } from './migrations.js';
export { type MigrationState, Migrator } from './migrator.js';
export { type AuditAttempt, type AuditEntry, type AuditOutcome, AuditTrail } from './trail.js';

/** The `poolpilot` schema (migrated at start, or when the primary comes up) and its audit trail. */
export class Audit {
  readonly migrator: Migrator;
  readonly trail: AuditTrail;
  readonly #cluster: Cluster;
  #unsubscribe: (() => void) | null = null;

  constructor(cluster: Cluster, log: Logger) {
    this.#cluster = cluster;
    this.migrator = new Migrator(cluster.primary, log.child({ component: 'migrations' }));
    this.trail = new AuditTrail(cluster.primary, this.migrator);
  }

  /** Never fails start-up: a primary that is down now is migrated once it is up. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#cluster.health.onChange((change) => {
      // Listeners are told before the pool is marked available again: migrate on the next turn.
      if (change.target === this.#cluster.primary.name && change.to === 'up')
        setImmediate(() => void this.migrator.migrate());
    });
    if (this.#cluster.primary.isUp) await this.migrator.migrate();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}

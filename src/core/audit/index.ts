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
    this.migrator = new Migrator(() => cluster.writer(), log.child({ component: 'migrations' }));
    this.trail = new AuditTrail(cluster, this.migrator);
  }

  /** Never fails start-up: a primary that is down now is migrated once it (or a promoted replica) is up. */
  async start(): Promise<void> {
    const cluster = this.#cluster;
    // Listeners are told before the pool is marked available again: migrate on the next turn.
    const later = () => setImmediate(() => void this.migrator.migrate());
    // Any target: which one writes may not be settled while listeners run. A migrated schema makes
    // migrate() a no-op.
    const offHealth = cluster.health.onChange((change) => {
      if (change.to === 'up') later();
    });
    const offRole = cluster.health.onRoleChange((change) => {
      if (change.to === 'primary') later();
    });
    this.#unsubscribe = () => {
      offHealth();
      offRole();
    };
    if (cluster.actingPrimary().isUp) await this.migrator.migrate();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}

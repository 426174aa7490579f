import type { Logger } from '../logger.js';
import type { Target } from '../pool/index.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import {
  APPLIED_VERSIONS,
  CREATE_MIGRATIONS_TABLE,
  CREATE_SCHEMA,
  MIGRATION_LOCK,
  RECORD_MIGRATION,
} from './sql.js';

export interface MigrationState {
  /** Highest version applied, 0 before the first run succeeds. */
  version: number;
  latest: number;
  /** Why the last attempt failed; null once migrated. */
  error: string | null;
}

/**
 * Brings the `poolpilot` schema on the primary up to the latest version. Runs at start-up and,
 * when the primary is down then, as soon as health checking sees it (or a promoted replica) up.
 */
export class Migrator {
  /** Where DDL goes: asked at each run, since a failover moves it (and a split brain refuses it). */
  readonly #primary: () => Target;
  readonly #log: Logger;
  readonly #migrations: readonly Migration[];
  #state: MigrationState;
  #running: Promise<boolean> | null = null;

  constructor(primary: () => Target, log: Logger, migrations: readonly Migration[] = MIGRATIONS) {
    this.#primary = primary;
    this.#log = log;
    this.#migrations = migrations;
    this.#state = { version: 0, latest: migrations.at(-1)?.version ?? 0, error: null };
  }

  get state(): MigrationState {
    return { ...this.#state };
  }

  get done(): boolean {
    return this.#state.version === this.#state.latest && this.#state.error === null;
  }

  /** Migrates if not done yet; concurrent callers share one run. Resolves false when it could not. */
  migrate(): Promise<boolean> {
    if (this.done) return Promise.resolve(true);
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #run(): Promise<boolean> {
    let lease: Awaited<ReturnType<Target['admin']['acquire']>> | null = null;
    try {
      // The admin role owns the schema: the data role can neither write nor drop it.
      lease = await this.#primary().admin.acquire();
      await lease.query('BEGIN');
      try {
        await lease.query(MIGRATION_LOCK);
        await lease.query(CREATE_SCHEMA);
        await lease.query(CREATE_MIGRATIONS_TABLE);
        const { rows } = await lease.query(APPLIED_VERSIONS);
        const applied = new Set(rows.map((r) => Number(r.version)));
        for (const migration of this.#migrations) {
          if (applied.has(migration.version)) continue;
          for (const statement of migration.statements) await lease.query(statement);
          await lease.query(RECORD_MIGRATION, [migration.version, migration.name]);
          this.#log.info({ version: migration.version, name: migration.name }, 'migrated poolpilot schema');
        }
        await lease.query('COMMIT');
      } catch (error) {
        // One transaction for all steps: a failed step leaves the schema at the previous version.
        await lease.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      this.#state = { ...this.#state, version: this.#state.latest, error: null };
      return true;
    } catch (error) {
      const message = (error as Error).message;
      this.#state = { ...this.#state, error: message };
      this.#log.warn(
        { err: message },
        'poolpilot schema not migrated yet; will retry when the primary is up',
      );
      return false;
    } finally {
      lease?.release();
    }
  }
}

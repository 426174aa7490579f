import { OWN_MARK } from '../application-name.js';
/** Every statement the executor sends of its own, named for what it asks. */

/** The primary's WAL position after a write: a replica that replayed past it has the write. */
export const CURRENT_WAL_LSN = `${OWN_MARK} SELECT pg_current_wal_insert_lsn()::text AS lsn`;

export const BEGIN = 'BEGIN';
export const COMMIT = 'COMMIT';
export const ROLLBACK = 'ROLLBACK';

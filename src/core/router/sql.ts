import { OWN_MARK } from '../application-name.js';

/** Every statement the router sends of its own, named for what it asks. */

/** How far a standby has replayed: a read that needs position X may run there once this is >= X. */
export const REPLAY_POSITION = `${OWN_MARK} SELECT pg_last_wal_replay_lsn()::text AS replay_lsn`;

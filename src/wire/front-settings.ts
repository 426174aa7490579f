import { ErrorCode, PoolpilotError } from '../core/errors.js';
import { parseAfterLsn } from '../core/router/index.js';
import { SqlState } from './sqlstate.js';

/**
 * The front's own settings, `poolpilot.*`: answered by the front, never sent to PostgreSQL
 * (which would take them as placeholder variables and ignore them). One statement of its own in
 * a simple Query:
 *   SET [SESSION | LOCAL] poolpilot.after_lsn { = | TO } '0/16B3748' | DEFAULT
 *   RESET poolpilot.after_lsn
 *   SHOW poolpilot.after_lsn | poolpilot.last_lsn
 */
export type FrontCommand =
  /** `lsn` null: RESET / DEFAULT. `local`: for the transaction under way only. */
  | { kind: 'set'; lsn: bigint | null; local: boolean }
  | { kind: 'show'; name: 'after_lsn' | 'last_lsn' }
  | { kind: 'refuse'; error: PoolpilotError };

export const FRONT_SETTINGS = ['after_lsn', 'last_lsn'] as const;

/** A statement (at the start of the text or after a `;`) that names a poolpilot.* setting. */
const MENTION = /(?:^|;)\s*(SET|RESET|SHOW)\s+(?:(SESSION|LOCAL)\s+)?"?poolpilot"?\s*\.\s*"?(\w+)"?/i;
const SET_WHOLE =
  /^\s*SET\s+(?:(SESSION|LOCAL)\s+)?"?poolpilot"?\s*\.\s*"?after_lsn"?\s*(?:=|\bTO\b)\s*(?:'([^']*)'|"([^"]*)"|(DEFAULT)\b|([0-9A-Fa-f]+\/[0-9A-Fa-f]+))\s*;?\s*$/i;
const RESET_WHOLE = /^\s*RESET\s+"?poolpilot"?\s*\.\s*"?after_lsn"?\s*;?\s*$/i;
const SHOW_WHOLE = /^\s*SHOW\s+"?poolpilot"?\s*\.\s*"?(after_lsn|last_lsn)"?\s*;?\s*$/i;

/**
 * What the front does itself with `sql`, or null when it is for the server. A poolpilot.*
 * setting it cannot take (another name, several statements, a bad value) is refused rather than
 * passed on, where it would be silently ignored.
 */
export function frontCommand(sql: string): FrontCommand | null {
  if (!/poolpilot/i.test(sql)) return null;
  const mention = MENTION.exec(stripComments(sql));
  if (!mention) return null;
  const name = mention[3]!.toLowerCase();
  const verb = mention[1]!.toUpperCase();
  if (!(FRONT_SETTINGS as readonly string[]).includes(name) || (verb !== 'SHOW' && name !== 'after_lsn'))
    return refuse(
      verb === 'SHOW' ? SqlState.UndefinedObject : SqlState.CantChangeRuntimeParam,
      verb === 'SHOW'
        ? `unrecognized configuration parameter "poolpilot.${name}": poolpilot has poolpilot.after_lsn and poolpilot.last_lsn`
        : `poolpilot.${name} cannot be set: only poolpilot.after_lsn can`,
    );
  const bare = stripComments(sql);
  const set = SET_WHOLE.exec(bare);
  if (set) {
    const value = set[2] ?? set[3] ?? set[5];
    const local = set[1]?.toUpperCase() === 'LOCAL';
    if (set[4] || value === '') return { kind: 'set', lsn: null, local };
    try {
      return { kind: 'set', lsn: parseAfterLsn(value ?? '', 'poolpilot.after_lsn'), local };
    } catch (error) {
      return { kind: 'refuse', error: error as PoolpilotError };
    }
  }
  if (RESET_WHOLE.test(bare)) return { kind: 'set', lsn: null, local: false };
  const show = SHOW_WHOLE.exec(bare);
  if (show) return { kind: 'show', name: show[1]!.toLowerCase() as 'after_lsn' | 'last_lsn' };
  return refuse(
    SqlState.FeatureNotSupported,
    `${verb} poolpilot.${name} must be a statement of its own in a simple query; e.g. SET poolpilot.after_lsn = '0/16B3748'`,
  );
}

function refuse(sqlstate: string, message: string): FrontCommand {
  return {
    kind: 'refuse',
    // BAD_SQL carries its own SQLSTATE to the wire, as PostgreSQL's refusals of a setting do.
    error: new PoolpilotError(ErrorCode.BadSql, message, {
      details: { sqlstate, hint: 'see "Causal consistency" in the README' },
    }),
  };
}

/** The text without comments, so a hint or a remark never counts as a statement. */
function stripComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}

import { builder } from '../builder.js';

/** pg_stat_activity.state, as PostgreSQL writes it, for each value of SessionState. */
const STATES = {
  ACTIVE: 'active',
  IDLE: 'idle',
  IDLE_IN_TRANSACTION: 'idle in transaction',
  IDLE_IN_TRANSACTION_ABORTED: 'idle in transaction (aborted)',
  FASTPATH_FUNCTION_CALL: 'fastpath function call',
  DISABLED: 'disabled',
} as const;

type SessionState = keyof typeof STATES | 'UNKNOWN';

export const SessionStateEnum = builder.enumType('SessionState', {
  description: 'pg_stat_activity.state of a session.',
  values: {
    ACTIVE: { description: 'Running a statement.' },
    IDLE: { description: 'Waiting for a command, outside a transaction.' },
    IDLE_IN_TRANSACTION: { description: 'Inside a transaction, waiting for the client (holds its locks).' },
    IDLE_IN_TRANSACTION_ABORTED: { description: 'Inside a failed transaction, waiting for ROLLBACK.' },
    FASTPATH_FUNCTION_CALL: { description: 'Running a fast-path function call.' },
    DISABLED: { description: 'track_activities is off for this session.' },
    UNKNOWN: {
      description:
        "Hidden (another role's session, without pg_read_all_stats) or a state this version does not know.",
    },
  } as const,
});

const BY_TEXT = new Map<string, SessionState>(
  Object.entries(STATES).map(([name, text]) => [text, name as SessionState]),
);

export function sessionState(text: string | null): SessionState {
  return (text !== null && BY_TEXT.get(text)) || 'UNKNOWN';
}

import { isPoolpilotError, PoolpilotError } from '../../core/errors.js';
import type { FieldDescription } from '../../core/pool/index.js';
import type { Consistency } from '../../core/router/index.js';
import { checkSessionName, type ExecuteResult, type TransactionResult } from '../../core/session/index.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { roundMs } from '../rounding.js';
import { RouteClassEnum } from './analysis.js';

const ResultFieldRef = builder.objectRef<FieldDescription>('ResultField').implement({
  description: 'A column of the result, as PostgreSQL described it (RowDescription); duplicates are kept.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The column name, as the keys of rows use it.' }),
    dataTypeID: t.field({
      type: 'SafeInt',
      description: 'The PostgreSQL type OID (pg_type.oid).',
      resolve: (f) => f.dataTypeID,
    }),
    tableID: t.field({
      type: 'SafeInt',
      description: 'OID of the table the column comes from (pg_class.oid), or 0 for a computed column.',
      resolve: (f) => f.tableID,
    }),
    columnID: t.exposeInt('columnID', {
      description: "The column's attribute number in that table (pg_attribute.attnum), or 0.",
    }),
    typeModifier: t.int({
      description: 'The type modifier (atttypmod), e.g. a varchar length + 4; -1 when none.',
      resolve: (f) => f.dataTypeModifier,
    }),
    typeSize: t.int({
      description: 'pg_type.typlen: bytes of a fixed-size type, negative for variable-size ones.',
      resolve: (f) => f.dataTypeSize,
    }),
    format: t.exposeInt('format', { description: '0 text, 1 binary (results here are always text).' }),
  }),
});

const ConsistencyReasonEnum = builder.enumType('ConsistencyReason', {
  description: 'How a statement given afterLsn was served.',
  values: {
    REPLICA_CAUGHT_UP: { description: 'A replica that had already replayed afterLsn served it.' },
    WAITED: {
      description:
        'A replica served it after poolpilot waited waitedMs (at most CAUSAL_WAIT_MS) for it to replay afterLsn.',
    },
    PRIMARY_FALLBACK: {
      description:
        'A replica would have served it, but none replayed afterLsn within CAUSAL_WAIT_MS (or none was up and within ' +
        'DB_REPLICA_MAX_LAG_MS): the primary served it.',
    },
    PRIMARY: {
      description:
        'The statement goes to the primary anyway (a write, a fast read, a transaction), which has every committed position.',
    },
  } as const,
});

const ConsistencyRef = builder.objectRef<Consistency>('Consistency').implement({
  description:
    'How a causal token (afterLsn) was honoured: the target that served the statement had replayed it.',
  fields: (t) => ({
    afterLsn: t.exposeString('afterLsn', {
      description: 'The WAL position asked for, as PostgreSQL prints it.',
    }),
    servedAt: t.exposeString('servedAt', {
      description: 'The target that served it: primary, replica-1, ...',
    }),
    waitedMs: t.float({
      description: 'Milliseconds (3 decimals) spent waiting for a replica to replay afterLsn; 0 when none.',
      resolve: (c) => roundMs(c.waitedMs),
    }),
    reason: t.field({
      type: ConsistencyReasonEnum,
      description: 'Why it was served there.',
      resolve: (c) => c.reason,
    }),
  }),
});

const TruncatedByEnum = builder.enumType('TruncatedBy', {
  description: 'What cut a result short.',
  values: {
    ROWS: { value: 'rows', description: 'The row cap: maxRows, at most EXECUTE_MAX_ROWS.' },
    BYTES: { value: 'bytes', description: 'The byte cap of row data: EXECUTE_MAX_BYTES.' },
  } as const,
});

/** The GraphQL field to use instead, added to the core's neutral refusals. */
function withAdvice(field: 'executeQuery' | 'executeTransaction') {
  return (error: unknown): never => {
    if (isPoolpilotError(error)) {
      const advice =
        error.details.refused === 'several-statements' && field === 'executeQuery'
          ? ' (use executeTransaction to run several atomically)'
          : error.details.refused === 'transaction-control' && field === 'executeQuery'
            ? '; use executeTransaction'
            : '';
      if (advice)
        throw new PoolpilotError(error.code, `${field}: ${error.message}${advice}`, {
          cause: error.cause ?? error,
          details: error.details,
        });
    }
    throw error;
  };
}

const RUN_ERRORS =
  'Errors: BAD_USER_INPUT (more than one statement, BEGIN/COMMIT, a $n count unlike params, a limit out of ' +
  'range), BAD_SQL (PostgreSQL refused it: sqlstate, position), QUERY_TIMEOUT (past timeoutMs, or the client ' +
  'went away), QUEUE_FULL (complex-query queue full), DB_UNAVAILABLE (the target is down).';

export const ExecuteResultRef = builder.objectRef<ExecuteResult>('ExecuteResult').implement({
  description: 'The rows of one statement and how it was routed.',
  fields: (t) => ({
    rows: t.field({
      type: ['JSON'],
      description: 'One object per row, keyed by column name; at most maxRows of them.',
      resolve: (r) => r.rows,
    }),
    fields: t.field({
      type: [ResultFieldRef],
      description: 'The columns, in order.',
      resolve: (r) => r.fields,
    }),
    rowCount: t.field({
      type: 'SafeInt',
      description: 'Rows returned or affected (returned, when truncated); SafeInt: an UPDATE can pass 2^31.',
      resolve: (r) => r.rowCount,
    }),
    command: t.exposeString('command', {
      nullable: true,
      description: 'The command tag: SELECT, INSERT, UPDATE, ...',
    }),
    durationMs: t.float({
      description: 'Time on the database connection, milliseconds (3 decimals), queue wait excluded.',
      resolve: (r) => roundMs(r.durationMs),
    }),
    truncated: t.exposeBoolean('truncated', {
      description:
        'The result was cut short: more rows than maxRows, or more row data than EXECUTE_MAX_BYTES.',
    }),
    truncatedBy: t.field({
      type: TruncatedByEnum,
      nullable: true,
      description: 'Which cap cut the result short; null when it is whole.',
      resolve: (r) => r.truncatedBy,
    }),
    bytes: t.field({
      type: 'SafeInt',
      description: 'Bytes of row data the server sent (kept and dropped).',
      resolve: (r) => r.bytes,
    }),
    route: t.field({
      type: RouteClassEnum,
      description: 'The class of the statement, from its analysis.',
      resolve: (r) => r.route,
    }),
    target: t.exposeString('target', { description: 'Where it ran: primary, replica-1, ...' }),
    queued: t.exposeBoolean('queued', { description: 'Went through the complex-query queue.' }),
    queueWaitMs: t.float({
      description: 'Milliseconds (3 decimals) spent waiting in the complex-query queue; 0 when not queued.',
      resolve: (r) => roundMs(r.queueWaitMs),
    }),
    reason: t.exposeString('reason', { description: 'Why it ran there.' }),
    complexity: t.exposeInt('complexity', { description: 'The analysis score, 0..100.' }),
    lsn: t.exposeString('lsn', {
      nullable: true,
      description:
        "The primary's WAL position after this statement's write (pg_current_wal_insert_lsn, e.g. 0/16B3748): pass it " +
        'as afterLsn to a later call to read this write from wherever it runs. Null for a read, or when no replica is ' +
        'configured (every read is on the primary then).',
    }),
    consistency: t.field({
      type: ConsistencyRef,
      nullable: true,
      description: 'How afterLsn was honoured; null when none was given.',
      resolve: (r) => r.consistency,
    }),
  }),
});

const TransactionResultRef = builder.objectRef<TransactionResult>('TransactionResult').implement({
  description: 'A committed transaction: one result per statement, in order.',
  fields: (t) => ({
    results: t.field({
      type: [ExecuteResultRef],
      description: 'One per statement, in the order given.',
      resolve: (r) => r.results,
    }),
    durationMs: t.float({
      description: 'BEGIN to COMMIT, milliseconds (3 decimals).',
      resolve: (r) => roundMs(r.durationMs),
    }),
    target: t.exposeString('target', { description: 'Always the primary: transactions can write.' }),
    lsn: t.exposeString('lsn', {
      nullable: true,
      description:
        "The primary's WAL position after the commit, when the transaction wrote and a replica is configured: a causal " +
        'token for afterLsn. Null otherwise.',
    }),
    consistency: t.field({
      type: ConsistencyRef,
      nullable: true,
      description:
        'How afterLsn was honoured (always PRIMARY: transactions run there); null when none was given.',
      resolve: (r) => r.consistency,
    }),
  }),
});

const StatementInput = builder.inputType('StatementInput', {
  description: 'One statement of executeTransaction.',
  fields: (t) => ({
    sql: t.string({ required: true, description: 'Exactly one statement, $1..$n for parameters.' }),
    params: t.field({
      type: ['JSON'],
      required: { list: false, items: false },
      description: 'Values for $1..$n, in order; as many as the statement uses.',
    }),
  }),
});

const limits = (t: Parameters<Parameters<typeof builder.mutationField>[1]>[0]) => ({
  timeoutMs: t.arg.int({
    required: false,
    description:
      'statement_timeout in milliseconds, 1..DB_STATEMENT_TIMEOUT (the default); beyond it BAD_USER_INPUT.',
  }),
  maxRows: t.arg.int({
    required: false,
    description: 'Row cap, 0..EXECUTE_MAX_ROWS (the default); beyond it BAD_USER_INPUT.',
  }),
  session: t.arg.string({
    required: false,
    description:
      "Your session's name (1..200 printable characters; default: the x-poolpilot-session HTTP header or WebSocket " +
      'connectionParams.session). With READ_YOUR_WRITES=session (the default) reads see the writes made under the ' +
      'same name; calls that name none share one session.',
  }),
  afterLsn: t.arg.string({
    required: false,
    description:
      'A causal token: an lsn an earlier call returned (hex/hex, e.g. 0/16B3748). Only a target that has replayed it ' +
      'serves this call: a replica that has, else one that does within CAUSAL_WAIT_MS, else the primary; see ' +
      'consistency. Not a WAL position: BAD_USER_INPUT.',
  }),
});

/** The session a call runs in: the argument, else the transport's (header, connectionParams), checked. */
function sessionOf(args: { session?: string | null }, ctx: Context): string | null {
  const name = checkSessionName(
    args.session ?? ctx.session,
    args.session != null ? 'session' : 'the x-poolpilot-session header (or connectionParams.session)',
  );
  // Apart from wire clients' sessions, whatever the name.
  return name === null ? null : `graphql:${name}`;
}

builder.mutationField('executeQuery', (t) =>
  t.field({
    type: ExecuteResultRef,
    description:
      'Runs one statement with $n parameters, routed by its analysis: fast reads → primary, medium → a replica, ' +
      'complex → the queue; writes and locks → primary. A client that goes away cancels it on the server. ' +
      `Operator role. ${RUN_ERRORS}`,
    authScopes: { operator: true },
    args: {
      sql: t.arg.string({
        required: true,
        description: 'Exactly one statement, at most MAX_SQL_BYTES bytes; $1..$n for parameters.',
      }),
      params: t.arg({
        type: ['JSON'],
        required: { list: false, items: false },
        description: 'Values for $1..$n, in order; as many as the statement uses.',
      }),
      ...limits(t),
    },
    resolve: async (_root, args, ctx) =>
      ctx.poolpilot
        .execute(args.sql, (args.params ?? []) as unknown[], {
          timeoutMs: args.timeoutMs ?? undefined,
          maxRows: args.maxRows ?? undefined,
          signal: ctx.signal,
          session: sessionOf(args, ctx),
          afterLsn: args.afterLsn,
        })
        .catch(withAdvice('executeQuery')),
  }),
);

builder.mutationField('executeTransaction', (t) =>
  t.field({
    type: TransactionResultRef,
    description:
      'Runs the statements in order in one transaction on the primary: all commit, or none. Operator role. ' +
      `${RUN_ERRORS} A failing statement's error names it in its message and in extensions.statement.`,
    authScopes: { operator: true },
    args: {
      statements: t.arg({
        type: [StatementInput],
        required: true,
        description: 'At least one; BEGIN and COMMIT are added for you.',
      }),
      ...limits(t),
    },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot
        .transaction(
          args.statements.map((s) => ({ sql: s.sql, params: (s.params ?? []) as unknown[] })),
          {
            timeoutMs: args.timeoutMs ?? undefined,
            maxRows: args.maxRows ?? undefined,
            signal: ctx.signal,
            session: sessionOf(args, ctx),
            afterLsn: args.afterLsn,
          },
        )
        .catch(withAdvice('executeTransaction')),
  }),
);

import type { ExecuteResult, TransactionResult } from '../../core/session/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';
import { RouteClassEnum } from './analysis.js';

const ResultFieldRef = builder.objectRef<{ name: string; dataTypeID: number }>('ResultField').implement({
  description: 'A column of the result.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The column name, as the keys of rows use it.' }),
    dataTypeID: t.exposeInt('dataTypeID', { description: 'The PostgreSQL type OID (pg_type.oid).' }),
  }),
});

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
    truncated: t.exposeBoolean('truncated', { description: 'More rows existed than maxRows.' }),
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
});

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
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.execute(args.sql, (args.params ?? []) as unknown[], {
        timeoutMs: args.timeoutMs ?? undefined,
        maxRows: args.maxRows ?? undefined,
        signal: ctx.signal,
      }),
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
      ctx.poolpilot.transaction(
        args.statements.map((s) => ({ sql: s.sql, params: (s.params ?? []) as unknown[] })),
        { timeoutMs: args.timeoutMs ?? undefined, maxRows: args.maxRows ?? undefined, signal: ctx.signal },
      ),
  }),
);

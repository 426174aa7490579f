import type { ExecuteResult, TransactionResult } from '../../core/session/index.js';
import { builder } from '../builder.js';
import { RouteClassEnum } from './analysis.js';

const ResultFieldRef = builder.objectRef<{ name: string; dataTypeID: number }>('ResultField').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    dataTypeID: t.exposeInt('dataTypeID', { description: 'The PostgreSQL type OID.' }),
  }),
});

export const ExecuteResultRef = builder.objectRef<ExecuteResult>('ExecuteResult').implement({
  fields: (t) => ({
    rows: t.field({
      type: ['JSON'],
      description: 'One object per row, keyed by column name.',
      resolve: (r) => r.rows,
    }),
    fields: t.field({ type: [ResultFieldRef], resolve: (r) => r.fields }),
    rowCount: t.exposeInt('rowCount', {
      description: 'Rows returned or affected (returned, when truncated).',
    }),
    command: t.exposeString('command', { nullable: true }),
    durationMs: t.exposeFloat('durationMs'),
    truncated: t.exposeBoolean('truncated', { description: 'More rows existed than maxRows.' }),
    route: t.field({ type: RouteClassEnum, resolve: (r) => r.route }),
    target: t.exposeString('target', { description: 'Where it ran: primary, replica-1, ...' }),
    queued: t.exposeBoolean('queued', { description: 'Went through the complex-query queue.' }),
    queueWaitMs: t.exposeFloat('queueWaitMs'),
    reason: t.exposeString('reason', { description: 'Why it ran there.' }),
    complexity: t.exposeInt('complexity'),
  }),
});

const TransactionResultRef = builder.objectRef<TransactionResult>('TransactionResult').implement({
  fields: (t) => ({
    results: t.field({ type: [ExecuteResultRef], resolve: (r) => r.results }),
    durationMs: t.exposeFloat('durationMs'),
    target: t.exposeString('target'),
  }),
});

const StatementInput = builder.inputType('StatementInput', {
  fields: (t) => ({
    sql: t.string({ required: true }),
    params: t.field({ type: ['JSON'], required: { list: false, items: false } }),
  }),
});

const limits = (t: Parameters<Parameters<typeof builder.mutationField>[1]>[0]) => ({
  timeoutMs: t.arg.int({ required: false, description: 'At most DB_STATEMENT_TIMEOUT (the default).' }),
  maxRows: t.arg.int({ required: false, description: 'Row cap, at most EXECUTE_MAX_ROWS (the default).' }),
});

builder.mutationField('executeQuery', (t) =>
  t.field({
    type: ExecuteResultRef,
    description:
      'Runs one statement with $n parameters, routed by its analysis: fast reads → primary, medium → a replica, ' +
      'complex → the queue; writes and locks → primary. A client that goes away cancels it on the server.',
    authScopes: { operator: true },
    args: {
      sql: t.arg.string({ required: true }),
      params: t.arg({ type: ['JSON'], required: { list: false, items: false } }),
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
    description: 'Runs the statements in order in one transaction on the primary: all commit, or none.',
    authScopes: { operator: true },
    args: {
      statements: t.arg({ type: [StatementInput], required: true }),
      ...limits(t),
    },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.transaction(
        args.statements.map((s) => ({ sql: s.sql, params: (s.params ?? []) as unknown[] })),
        { timeoutMs: args.timeoutMs ?? undefined, maxRows: args.maxRows ?? undefined, signal: ctx.signal },
      ),
  }),
);

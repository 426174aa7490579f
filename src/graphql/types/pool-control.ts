import { builder } from '../builder.js';
import { PoolStatsRef, poolStatsView } from './pool-stats.js';

/**
 * PgBouncer's admin actions (the wire admin console's PAUSE, RESUME, RECONNECT, KILL_CLIENT) as
 * mutations for admins. A `target` names one target (primary, replica-1, ...) or the served
 * database (every target); omitted, every target.
 */

const TARGET =
  'A target (primary, replica-1, ...) or the database name for every target; omitted, every target.';

builder.mutationField('pausePool', (t) =>
  t.field({
    type: PoolStatsRef,
    description:
      'Stops handing out server connections (PgBouncer PAUSE): units of work in flight finish, new ones wait ' +
      '(and give up after DB_CONN_TIMEOUT). Answers once every connection lent out has come back. Admin role. ' +
      'Errors: FORBIDDEN below admin; BAD_USER_INPUT for an unknown target or when already paused.',
    authScopes: { admin: true },
    args: { target: t.arg.string({ required: false, description: TARGET }) },
    resolve: async (_root, args, ctx) => {
      await ctx.poolpilot.control.pause(args.target);
      ctx.poolpilot.log.info({ target: args.target ?? 'all' }, 'pool paused');
      return poolStatsView(ctx.poolpilot.poolState());
    },
  }),
);

builder.mutationField('resumePool', (t) =>
  t.field({
    type: PoolStatsRef,
    description:
      'Hands out server connections again after pausePool or KILL (PgBouncer RESUME); waiting callers go first. ' +
      'Admin role. Errors: FORBIDDEN below admin; BAD_USER_INPUT for an unknown target or when none is paused.',
    authScopes: { admin: true },
    args: { target: t.arg.string({ required: false, description: TARGET }) },
    resolve: (_root, args, ctx) => {
      ctx.poolpilot.control.resume(args.target);
      ctx.poolpilot.log.info({ target: args.target ?? 'all' }, 'pool resumed');
      return poolStatsView(ctx.poolpilot.poolState());
    },
  }),
);

builder.mutationField('reconnectPool', (t) =>
  t.field({
    type: PoolStatsRef,
    description:
      'Closes every server connection (PgBouncer RECONNECT): idle ones at once, lent ones when they come back; ' +
      'new ones are opened as needed. Admin role. Errors: FORBIDDEN below admin; BAD_USER_INPUT for an unknown target.',
    authScopes: { admin: true },
    args: { target: t.arg.string({ required: false, description: TARGET }) },
    resolve: (_root, args, ctx) => {
      const done = ctx.poolpilot.control.reconnect(args.target);
      ctx.poolpilot.log.info(
        { target: args.target ?? 'all', connections: done.connections },
        'pool reconnected',
      );
      return poolStatsView(ctx.poolpilot.poolState());
    },
  }),
);

builder.mutationField('killClient', (t) =>
  t.boolean({
    description:
      'Disconnects one wire client (Query.clients id; PgBouncer KILL_CLIENT) with 57P01; what it had in flight is ' +
      'rolled back. Admin role. Errors: FORBIDDEN below admin; BAD_USER_INPUT when no client has that id.',
    authScopes: { admin: true },
    args: { id: t.arg.int({ required: true, description: 'The client id (Query.clients, SHOW CLIENTS).' }) },
    resolve: (_root, args, ctx) => {
      ctx.poolpilot.control.killClient(args.id);
      ctx.poolpilot.log.info({ client: args.id }, 'wire client killed');
      return true;
    },
  }),
);

import type { FleetState, Member, MemberPool, ShareState } from '../../core/fleet/index.js';
import { builder } from '../builder.js';

const InstancePoolRef = builder.objectRef<MemberPool>('InstancePool').implement({
  description: "One target's data pool on one instance, as of that instance's last heartbeat.",
  fields: (t) => ({
    target: t.exposeString('target', { description: 'primary, replica-1, ...' }),
    total: t.exposeInt('total', { description: 'Server connections open (idle + active).' }),
    active: t.exposeInt('active', { description: 'Connections leased to callers.' }),
    idle: t.exposeInt('idle', { description: 'Connections open and free.' }),
    waiting: t.exposeInt('waiting', { description: 'Callers waiting for a connection.' }),
    share: t.exposeInt('share', {
      description:
        "The most connections this instance may hold: its share of the target's budget (DB_POOL_SIZE across " +
        'every instance); for a single instance, DB_POOL_SIZE.',
    }),
  }),
});

export const InstanceRef = builder.objectRef<Member>('Instance').implement({
  description: 'A poolpilot instance of the fleet (instances sharing one REDIS_URL).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'INSTANCE_NAME (default host-pid).' }),
    alive: t.exposeBoolean('alive', {
      description: 'Its heartbeat is current (instances silent for 4 s drop out of the list).',
    }),
    lastSeen: t.field({
      type: 'DateTime',
      description: 'Its last heartbeat (every second).',
      resolve: (m) => m.lastSeen,
    }),
    startedAt: t.field({ type: 'DateTime', description: 'When it started.', resolve: (m) => m.startedAt }),
    slot: t.exposeInt('slot', {
      nullable: true,
      description:
        'Its number in the wire cancel keys (high bits of the BackendKeyData process id); null without Redis.',
    }),
    clients: t.exposeInt('clients', { description: 'Clients connected through its wire front.' }),
    pools: t.field({
      type: [InstancePoolRef],
      description: 'Its data pool per target, the primary first.',
      resolve: (m) => m.pools,
    }),
  }),
});

const ConnectionShareRef = builder.objectRef<ShareState>('ConnectionShare').implement({
  description: "This instance's share of one target's connection budget.",
  fields: (t) => ({
    target: t.exposeString('target', { description: 'primary, replica-1, ...' }),
    budget: t.exposeInt('budget', {
      description: 'Connections to the target across every instance (DB_POOL_SIZE).',
    }),
    share: t.exposeInt('share', { description: 'Connections this instance may hold now.' }),
    fair: t.exposeInt('fair', {
      description: 'Its fair share by demand; the share reaches it as the other instances give back.',
    }),
    instances: t.exposeInt('instances', { description: 'Live instances sharing the budget.' }),
    settled: t.exposeBoolean('settled', {
      description: 'False for one lease time (3 s) after a gap in coordination: no instance grows meanwhile.',
    }),
    renewedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the share was last renewed (every 500 ms while Redis answers).',
      resolve: (s) => s.renewedAt,
    }),
  }),
});

export const FleetHealthRef = builder.objectRef<FleetState>('FleetHealth').implement({
  description: 'The coordination with the other instances through Redis (REDIS_URL).',
  fields: (t) => ({
    instance: t.exposeString('instance', { description: "This instance's name (INSTANCE_NAME)." }),
    redisReachable: t.boolean({
      description:
        'Redis answers. While it does not, the service is DEGRADED: shares are frozen (never grown), ' +
        'cancels are not forwarded and plans are not shared.',
      resolve: (f) => f.redis.up,
    }),
    since: t.field({
      type: 'DateTime',
      description: 'When redisReachable last changed.',
      resolve: (f) => f.redis.since,
    }),
    reason: t.string({
      nullable: true,
      description: 'Why Redis is unreachable (the last error); null when reachable.',
      resolve: (f) => f.redis.reason,
    }),
    shares: t.field({
      type: [ConnectionShareRef],
      description: 'Its share of each target, the primary first.',
      resolve: (f) => f.shares,
    }),
  }),
});

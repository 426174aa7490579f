import { type ConfigDescription, describeConfig } from '../../config/index.js';
import type { ServiceInfo } from '../../core/index.js';
import type { TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';
import { FrontRef } from './clients.js';
import { InstanceRef } from './fleet.js';
import { roleFields, TargetRoleEnum, TargetStatusEnum } from './health.js';
import { ServiceConfigurationRef } from './info-configuration.js';

const TargetInfoRef = builder.objectRef<TargetState>('TargetInfo').implement({
  description: 'A database server poolpilot pools against.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'primary, replica-1, replica-2, ...' }),
    role: t.field({
      type: TargetRoleEnum,
      description: 'Primary or replica, as configured (see detectedRole for what it is now).',
      resolve: (s) => s.role,
    }),
    host: t.string({ description: 'Host name or address.', resolve: (s) => s.endpoint.host }),
    port: t.int({ description: 'TCP port, 1..65535.', resolve: (s) => s.endpoint.port }),
    database: t.string({ description: 'Database name.', resolve: (s) => s.endpoint.database }),
    user: t.string({ description: 'The role poolpilot connects as.', resolve: (s) => s.endpoint.user }),
    status: t.field({
      type: TargetStatusEnum,
      description: 'The health-check verdict (see Query.health for details).',
      resolve: (s) => s.health.status,
    }),
    serverVersion: t.exposeString('serverVersion', {
      nullable: true,
      description: 'server_version, e.g. 16.4; null until first reached.',
    }),
    ...roleFields(t),
  }),
});

// Targets and configuration are resolved only when asked for: the pool snapshot summarises every
// latency histogram, which made `{ info { name version } }` cost more than a statement.
const ServiceInfoRef = builder.objectRef<ServiceInfo>('ServiceInfo').implement({
  description: 'The running service: version, uptime, targets and effective configuration.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Always poolpilot.' }),
    version: t.exposeString('version', { description: 'The package version (semver).' }),
    startedAt: t.field({
      type: 'DateTime',
      description: 'When the process started.',
      resolve: (i) => i.startedAt,
    }),
    uptimeSeconds: t.float({
      description: 'Seconds since startedAt, to the millisecond.',
      resolve: (i) => roundMs(i.uptimeSeconds),
    }),
    postgresVersion: t.exposeString('postgresVersion', {
      nullable: true,
      description: 'server_version of the primary; null until it was first reached.',
    }),
    embedded: t.exposeBoolean('embedded', { description: 'True when poolpilot started its own PostgreSQL.' }),
    authEnabled: t.boolean({
      description: 'API_TOKENS are configured: every operation needs a token.',
      resolve: (_i, _a, ctx) => ctx.config.tokens.length > 0,
    }),
    targets: t.field({
      type: [TargetInfoRef],
      description: 'The primary first, then each replica.',
      resolve: (_i, _a, ctx): TargetState[] => ctx.poolpilot.poolState().targets,
    }),
    fronts: t.field({
      type: [FrontRef],
      description:
        'The fronts that accept database clients (the PostgreSQL wire front) and where they listen.',
      resolve: (_i, _a, ctx) => ctx.poolpilot.clients.fronts(),
    }),
    instances: t.field({
      type: [InstanceRef],
      description:
        'The live poolpilot instances sharing this REDIS_URL, by name, with their pools and clients; ' +
        'without REDIS_URL (or while Redis is unreachable), this instance alone.',
      resolve: (_i, _a, ctx) => ctx.poolpilot.instances(),
    }),
    configuration: t.field({
      type: ServiceConfigurationRef,
      description: 'The effective configuration; passwords and tokens are never included.',
      resolve: (_i, _a, ctx): ConfigDescription => describeConfig(ctx.config),
    }),
    config: t.field({
      type: 'JSON',
      description: 'The effective configuration as one JSON object; passwords and tokens are never included.',
      deprecationReason: 'Use configuration: the same figures, typed and documented.',
      resolve: (_i, _a, ctx): ConfigDescription => describeConfig(ctx.config),
    }),
  }),
});

builder.queryField('info', (t) =>
  t.field({
    type: ServiceInfoRef,
    description:
      'Service name, version, uptime, PostgreSQL version, targets and configuration (secrets masked).',
    resolve: (_root, _args, ctx) => ctx.poolpilot.info(),
  }),
);

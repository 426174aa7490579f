import { type ConfigDescription, describeConfig } from '../../config/index.js';
import type { ServiceInfo } from '../../core/index.js';
import type { TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { TargetRoleEnum, TargetStatusEnum } from './health.js';

const TargetInfoRef = builder.objectRef<TargetState>('TargetInfo').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.field({ type: TargetRoleEnum, resolve: (s) => s.role }),
    host: t.string({ resolve: (s) => s.endpoint.host }),
    port: t.int({ resolve: (s) => s.endpoint.port }),
    database: t.string({ resolve: (s) => s.endpoint.database }),
    user: t.string({ resolve: (s) => s.endpoint.user }),
    status: t.field({ type: TargetStatusEnum, resolve: (s) => s.health.status }),
    serverVersion: t.exposeString('serverVersion', { nullable: true }),
  }),
});

// Targets and configuration are resolved only when asked for: the pool snapshot summarises every
// latency histogram, which made `{ info { name version } }` cost more than a statement.
const ServiceInfoRef = builder.objectRef<ServiceInfo>('ServiceInfo').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    startedAt: t.field({ type: 'DateTime', resolve: (i) => i.startedAt }),
    uptimeSeconds: t.exposeFloat('uptimeSeconds'),
    postgresVersion: t.exposeString('postgresVersion', {
      nullable: true,
      description: 'server_version of the primary.',
    }),
    embedded: t.exposeBoolean('embedded', { description: 'True when poolpilot started its own PostgreSQL.' }),
    authEnabled: t.boolean({ resolve: (_i, _a, ctx) => describeConfig(ctx.poolpilot.config).authEnabled }),
    targets: t.field({
      type: [TargetInfoRef],
      resolve: (_i, _a, ctx): TargetState[] => ctx.poolpilot.poolState().targets,
    }),
    config: t.field({
      type: 'JSON',
      description: 'The effective configuration; passwords and tokens are never included.',
      resolve: (_i, _a, ctx): ConfigDescription => describeConfig(ctx.poolpilot.config),
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

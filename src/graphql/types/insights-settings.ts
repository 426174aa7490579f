import type { PoolSizeAdvice, ServerSize, SettingAdvice, SettingsReport } from '../../core/insights/index.js';
import { builder } from '../builder.js';

const ServerSizeRef = builder.objectRef<ServerSize>('ServerSize').implement({
  description: "The database server's size, which the recommendations are computed for.",
  fields: (t) => ({
    memoryMb: t.exposeInt('memoryMb', { nullable: true, description: 'Memory, MiB; null when unknown.' }),
    cpus: t.exposeInt('cpus', { nullable: true, description: 'CPU cores; null when unknown.' }),
    source: t.string({
      description:
        'config (DB_SERVER_MEMORY_MB / DB_SERVER_CPUS), measured (PostgreSQL is local) or unknown.',
      resolve: (s) => s.source,
    }),
  }),
});

const PoolSizeAdviceRef = builder.objectRef<PoolSizeAdvice>('PoolSizeAdvice').implement({
  description:
    'The guide\'s pool size for the server\'s CPUs (its "Recommended Pool Sizes" table), per target; ' +
    'DB_POOL_MIN and DB_POOL_SIZE set the running pool, which can differ.',
  fields: (t) => ({
    cpus: t.exposeInt('cpus', { description: "The server's CPU cores the row was chosen for." }),
    min: t.exposeInt('min', { description: 'Recommended DB_POOL_MIN: connections kept open.' }),
    default: t.exposeInt('default', { description: 'Recommended everyday pool size.' }),
    max: t.exposeInt('max', { description: 'Recommended DB_POOL_SIZE: the most connections per target.' }),
    row: t.exposeString('row', { description: "The guide's row, e.g. 4 CPUs (Our Setup)." }),
  }),
});

const SettingAdviceRef = builder.objectRef<SettingAdvice>('SettingAdvice').implement({
  description: 'One server setting (pg_settings), with what PGTune would set and why.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The setting, e.g. shared_buffers.' }),
    current: t.exposeString('current', { description: 'As people write it: 128MB, 30s.' }),
    setting: t.exposeString('setting', { description: 'pg_settings.setting, in unit.' }),
    unit: t.exposeString('unit', {
      nullable: true,
      description: 'pg_settings.unit (8kB, ms, ...); null when none.',
    }),
    recommended: t.exposeString('recommended', {
      nullable: true,
      description: 'What to set, as ALTER SYSTEM takes it; null when there is nothing to recommend.',
    }),
    needsChange: t.exposeBoolean('needsChange', { description: 'current differs from recommended.' }),
    reason: t.exposeString('reason', { description: 'Why that value, in words.' }),
    context: t.exposeString('context', {
      description: 'pg_settings.context: postmaster settings take effect only after a restart.',
    }),
    requiresRestart: t.exposeBoolean('requiresRestart', {
      description: 'Changing it needs a server restart.',
    }),
    pendingRestart: t.exposeBoolean('pendingRestart', {
      description: 'Changed with ALTER SYSTEM but not in effect until the server restarts.',
    }),
    source: t.exposeString('source', { description: 'pg_settings.source: default, configuration file, ...' }),
    description: t.exposeString('description', {
      description: "PostgreSQL's short description (short_desc).",
    }),
  }),
});

const SettingsReportRef = builder.objectRef<SettingsReport>('SettingsReport').implement({
  description: 'Server settings that matter for pooling and CPU, with recommendations.',
  fields: (t) => ({
    server: t.field({
      type: ServerSizeRef,
      description: 'The server size used for the recommendations.',
      resolve: (r) => r.server,
    }),
    poolSize: t.field({
      type: PoolSizeAdviceRef,
      nullable: true,
      description: "The guide's pool size; null when the CPU count is unknown.",
      resolve: (r) => r.poolSize,
    }),
    settings: t.field({
      type: [SettingAdviceRef],
      description: 'One per setting.',
      resolve: (r) => r.settings,
    }),
  }),
});

builder.queryField('settings', (t) =>
  t.field({
    type: SettingsReportRef,
    description: "Settings that matter for pooling and CPU, with PGTune's recommendation (web, SSD) and why.",
    resolve: (_root, _args, ctx) => ctx.poolpilot.insights.settings(),
  }),
);

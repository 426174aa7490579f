import type { PoolSizeAdvice, ServerSize, SettingAdvice, SettingsReport } from '../../core/insights/index.js';
import { builder } from '../builder.js';

const ServerSizeRef = builder.objectRef<ServerSize>('ServerSize').implement({
  fields: (t) => ({
    memoryMb: t.exposeInt('memoryMb', { nullable: true }),
    cpus: t.exposeInt('cpus', { nullable: true }),
    source: t.string({
      description:
        'config (DB_SERVER_MEMORY_MB / DB_SERVER_CPUS), measured (PostgreSQL is local) or unknown.',
      resolve: (s) => s.source,
    }),
  }),
});

const PoolSizeAdviceRef = builder.objectRef<PoolSizeAdvice>('PoolSizeAdvice').implement({
  description: "The guide's pool size for the server's CPUs.",
  fields: (t) => ({
    cpus: t.exposeInt('cpus'),
    min: t.exposeInt('min'),
    default: t.exposeInt('default'),
    max: t.exposeInt('max'),
    row: t.exposeString('row'),
  }),
});

const SettingAdviceRef = builder.objectRef<SettingAdvice>('SettingAdvice').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    current: t.exposeString('current', { description: 'As people write it: 128MB, 30s.' }),
    setting: t.exposeString('setting', { description: 'pg_settings.setting, in unit.' }),
    unit: t.exposeString('unit', { nullable: true }),
    recommended: t.exposeString('recommended', { nullable: true }),
    needsChange: t.exposeBoolean('needsChange'),
    reason: t.exposeString('reason'),
    context: t.exposeString('context'),
    requiresRestart: t.exposeBoolean('requiresRestart'),
    pendingRestart: t.exposeBoolean('pendingRestart'),
    source: t.exposeString('source'),
    description: t.exposeString('description'),
  }),
});

const SettingsReportRef = builder.objectRef<SettingsReport>('SettingsReport').implement({
  fields: (t) => ({
    server: t.field({ type: ServerSizeRef, resolve: (r) => r.server }),
    poolSize: t.field({ type: PoolSizeAdviceRef, nullable: true, resolve: (r) => r.poolSize }),
    settings: t.field({ type: [SettingAdviceRef], resolve: (r) => r.settings }),
  }),
});

builder.queryField('settings', (t) =>
  t.field({
    type: SettingsReportRef,
    description: "Settings that matter for pooling and CPU, with PGTune's recommendation (web, SSD) and why.",
    resolve: (_root, _args, ctx) => ctx.poolpilot.insights.settings(),
  }),
);

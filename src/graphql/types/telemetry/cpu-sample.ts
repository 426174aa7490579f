import type { CpuSample } from '../../../core/telemetry/index.js';
import { builder } from '../../builder.js';
import { roundPercent } from '../../rounding.js';
import { INTERVAL_ARG_DESCRIPTION } from './interval.js';

const CpuSourceEnum = builder.enumType('CpuSource', {
  description: 'Where CPU figures come from, in the order tried.',
  values: {
    DOCKER: { value: 'docker', description: 'Docker Engine API, for the container in DB_CONTAINER.' },
    PROC: {
      value: 'proc',
      description: "The postmaster's process tree in /proc (a server on this machine).",
    },
    CGROUP: { value: 'cgroup', description: 'The cgroup v2 the postmaster runs in (cpu.stat).' },
    NONE: { value: 'none', description: 'No source works here; `skipped` says why.' },
  } as const,
});

export const CpuSampleRef = builder.objectRef<CpuSample>('CpuSample').implement({
  description: "The PostgreSQL server's CPU (its container, cgroup or process tree) at one instant.",
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'When the sample was taken.', resolve: (s) => s.at }),
    seq: t.exposeInt('seq', {
      description: "The sample's number within its sampler; shared by all subscribers.",
    }),
    intervalMs: t.exposeInt('intervalMs', { description: 'The interval in effect (after clamping).' }),
    source: t.field({
      type: CpuSourceEnum,
      description: 'Where the figures come from.',
      resolve: (s) => s.source,
    }),
    detail: t.exposeString('detail', {
      nullable: true,
      description: 'What was measured: container name, postmaster pid or cgroup path.',
    }),
    skipped: t.exposeStringList('skipped', {
      description: 'Why each source tried before this one could not be used (all of them for NONE).',
    }),
    percentOfOneCore: t.float({
      nullable: true,
      description:
        '100 = one core fully busy (as docker stats and top show it), 2 decimals; null when unknown.',
      resolve: (s) => roundPercent(s.percentOfOneCore),
    }),
    percentOfAllCores: t.float({
      nullable: true,
      description: '0..100 of all cores available to the server, 2 decimals; null when unknown.',
      resolve: (s) => roundPercent(s.percentOfAllCores),
    }),
    cores: t.exposeFloat('cores', { nullable: true, description: 'Cores available to the server.' }),
    memoryBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Memory used, bytes, without reclaimable page cache; null when unknown.',
      resolve: (s) => (s.memoryBytes === null ? null : Math.round(s.memoryBytes)),
    }),
    loadAverage: t.exposeFloatList('loadAverage', {
      description: '1, 5 and 15 minute load averages of the host poolpilot runs on.',
    }),
    hostCores: t.exposeInt('hostCores', { description: 'Cores of the host poolpilot runs on.' }),
  }),
});

builder.subscriptionField('containerCpu', (t) =>
  t.field({
    type: CpuSampleRef,
    description:
      'CPU of the PostgreSQL server (Docker container, local process tree or cgroup), percent and cores.',
    args: { intervalMs: t.arg.int({ required: false, description: INTERVAL_ARG_DESCRIPTION }) },
    subscribe: (_root, args, ctx) =>
      ctx.poolpilot.telemetry.containerCpu(args.intervalMs, { audience: ctx.audience }),
    resolve: (sample) => sample,
  }),
);

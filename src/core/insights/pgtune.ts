/**
 * PGTune's published formulas (pgtune.leopard.in.ua) for a "web application" on Linux with SSD
 * storage, and the user's guide's pool-size table by CPU count. Pure: sizes in, figures out.
 * Memory figures are in kB, PostgreSQL's base unit for them.
 */

export interface ServerSize {
  memoryMb: number | null;
  cpus: number | null;
  /** Where the figures came from. */
  source: 'config' | 'measured' | 'unknown';
}

export interface Tuned {
  value: number;
  /** As ALTER SYSTEM takes it: `4GB`, `5242kB`, `0.9`. */
  text: string;
  why: string;
}

const GB_KB = 1024 * 1024;

export function pgtune(size: ServerSize, maxConnections: number): Record<string, Tuned> {
  const out: Record<string, Tuned> = {
    checkpoint_completion_target: {
      value: 0.9,
      text: '0.9',
      why: 'spreads checkpoint writes over 90% of the interval',
    },
    default_statistics_target: { value: 100, text: '100', why: "PGTune's value for web workloads" },
    random_page_cost: {
      value: 1.1,
      text: '1.1',
      why: 'random reads cost about as much as sequential ones on SSD storage (PGTune, SSD), so index scans are not undervalued',
    },
    effective_io_concurrency: {
      value: 200,
      text: '200',
      why: 'SSDs serve many concurrent reads (PGTune, SSD)',
    },
    min_wal_size: { value: GB_KB, text: '1GB', why: "PGTune's value for web workloads" },
    max_wal_size: {
      value: 4 * GB_KB,
      text: '4GB',
      why: 'fewer forced checkpoints under write bursts (PGTune, web)',
    },
  };
  const cpus = size.cpus;
  let perGather = 1;
  if (cpus !== null && cpus >= 2) {
    perGather = Math.min(4, Math.ceil(cpus / 2));
    const half = Math.min(4, Math.ceil(cpus / 2));
    out.max_worker_processes = {
      value: cpus,
      text: String(cpus),
      why: `one background worker per CPU (${cpus})`,
    };
    out.max_parallel_workers = {
      value: cpus,
      text: String(cpus),
      why: `at most one parallel worker per CPU (${cpus})`,
    };
    out.max_parallel_workers_per_gather = {
      value: perGather,
      text: String(perGather),
      why: `half the CPUs (${cpus}), at most 4, so one query cannot take every core`,
    };
    out.max_parallel_maintenance_workers = {
      value: half,
      text: String(half),
      why: `half the CPUs (${cpus}), at most 4, for index builds and VACUUM`,
    };
  }
  if (size.memoryMb !== null) {
    const memKb = size.memoryMb * 1024;
    const mem = formatKb(memKb);
    // PGTune shows memory in whole MB (or GB); work_mem stays in kB.
    const sharedBuffers = wholeMb(memKb / 4);
    out.shared_buffers = { value: sharedBuffers, text: formatKb(sharedBuffers), why: `25% of ${mem} RAM` };
    const cache = wholeMb((memKb * 3) / 4);
    out.effective_cache_size = {
      value: cache,
      text: formatKb(cache),
      why: `75% of ${mem} RAM: what the planner may assume the OS and shared buffers cache`,
    };
    const maintenance = Math.min(2 * GB_KB, wholeMb(memKb / 16));
    out.maintenance_work_mem = {
      value: maintenance,
      text: formatKb(maintenance),
      why: `1/16 of ${mem} RAM, at most 2GB, for VACUUM and CREATE INDEX`,
    };
    let wal = Math.floor((sharedBuffers * 3) / 100);
    if (wal > 14 * 1024) wal = 16 * 1024;
    wal = Math.max(32, wal);
    out.wal_buffers = { value: wal, text: formatKb(wal), why: '3% of shared_buffers, at most 16MB' };
    const work = Math.max(64, Math.floor((memKb - sharedBuffers) / (maxConnections * 3) / perGather));
    out.work_mem = {
      value: work,
      text: formatKb(work),
      why: `(RAM − shared_buffers) / (max_connections ${maxConnections} × 3) / ${perGather} parallel worker(s) per gather: each sort or hash may use this much, several per query`,
    };
  }
  return out;
}

export interface PoolSizeAdvice {
  cpus: number;
  min: number;
  default: number;
  max: number;
  /** The guide's row the figures come from. */
  row: string;
}

// The user's guide, "Recommended Pool Sizes": CPUs → min / default / max.
const POOL_TABLE = [
  { cpus: 2, min: 3, default: 8, max: 16, row: 'Lightweight' },
  { cpus: 4, min: 5, default: 15, max: 25, row: 'Our Setup' },
  { cpus: 8, min: 10, default: 20, max: 40, row: 'High Load' },
  { cpus: 16, min: 20, default: 35, max: 70, row: 'Enterprise' },
] as const;

/** The guide's row for the largest CPU count not above `cpus` (the smallest row below 2 CPUs). */
export function poolSizeFor(cpus: number): PoolSizeAdvice {
  let row: (typeof POOL_TABLE)[number] = POOL_TABLE[0];
  for (const candidate of POOL_TABLE) if (candidate.cpus <= cpus) row = candidate;
  return { cpus, min: row.min, default: row.default, max: row.max, row: `${row.cpus} CPUs (${row.row})` };
}

function wholeMb(kb: number): number {
  return kb >= 1024 ? Math.floor(kb / 1024) * 1024 : Math.floor(kb);
}

export function formatKb(kb: number): string {
  if (kb % GB_KB === 0) return `${kb / GB_KB}GB`;
  if (kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}kB`;
}

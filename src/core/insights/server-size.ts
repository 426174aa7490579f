import { isIP } from 'node:net';
import os from 'node:os';
import type { ServerSize } from './pgtune.js';

/**
 * The database server's memory and CPUs: as configured; otherwise measured on this machine when
 * PostgreSQL runs on it (a loopback host); otherwise unknown.
 */
export function serverSize(
  configured: { memoryMb: number | null; cpus: number | null },
  host: string,
): ServerSize {
  const local = isLoopbackHost(host);
  const memoryMb = configured.memoryMb ?? (local ? Math.floor(os.totalmem() / (1024 * 1024)) : null);
  const cpus = configured.cpus ?? (local ? os.availableParallelism() : null);
  const source =
    configured.memoryMb !== null || configured.cpus !== null
      ? 'config'
      : memoryMb !== null
        ? 'measured'
        : 'unknown';
  return { memoryMb, cpus, source };
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.startsWith('/')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return isIP(h) === 6 && h === '::1';
}

/** PostgreSQL LSNs ('16/B374D848') as byte positions, so lag can be computed across servers. */
export function parseLsn(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const match = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn);
  if (!match) return null;
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** Bytes from `behind` to `ahead`; never negative (a replica's view can be momentarily newer). */
export function lsnDiff(ahead: string | null, behind: string | null): number | null {
  const a = parseLsn(ahead);
  const b = parseLsn(behind);
  if (a === null || b === null) return null;
  return a > b ? Number(a - b) : 0;
}

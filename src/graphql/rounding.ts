/**
 * Figures as a reader wants them: durations to the microsecond and percentages to a hundredth.
 * The digits beyond are clock and float-sum noise (1.4134533762253518 ms). Truncated, not rounded:
 * truncation keeps every relation between figures (mean × calls ≤ total, shares summing to at
 * most 100), which rounding half up can break by a last digit.
 */
function truncate(value: number, scale: number): number {
  // The nudge keeps 57.3 (stored as 57.29999999999999) from becoming 57.29.
  return Math.floor(value * scale + 1e-6) / scale;
}

export function roundMs(ms: number): number;
export function roundMs(ms: number | null): number | null;
export function roundMs(ms: number | null): number | null {
  return ms === null ? null : truncate(ms, 1_000);
}

export function roundPercent(percent: number): number;
export function roundPercent(percent: number | null): number | null;
export function roundPercent(percent: number | null): number | null {
  return percent === null ? null : truncate(percent, 100);
}

/** Ratios 0..1 to four decimals (a hundredth of a percent). */
export function roundRatio(ratio: number | null): number | null {
  return ratio === null ? null : truncate(ratio, 10_000);
}

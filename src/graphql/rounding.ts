/**
 * Figures as a reader wants them: durations to the microsecond and percentages to a hundredth.
 * The digits beyond are clock and float-sum noise (1.4134533762253518 ms).
 */
export function roundMs(ms: number): number;
export function roundMs(ms: number | null): number | null;
export function roundMs(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1_000) / 1_000;
}

export function roundPercent(percent: number): number;
export function roundPercent(percent: number | null): number | null;
export function roundPercent(percent: number | null): number | null {
  return percent === null ? null : Math.round(percent * 100) / 100;
}

/** Ratios 0..1 to four decimals (a hundredth of a percent). */
export function roundRatio(ratio: number | null): number | null {
  return ratio === null ? null : Math.round(ratio * 10_000) / 10_000;
}

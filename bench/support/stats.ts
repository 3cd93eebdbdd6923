/** Order statistics for benchmark samples (nearest-rank percentiles: every value reported was measured). */

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function spread(samples: readonly number[]): Spread {
  return {
    n: samples.length,
    median: median(samples),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
  };
}

/** `1234 ms (1100–1500)` style: the median and the range of the samples. */
export function describeSpread(s: Spread, unit = "ms", digits = 0): string {
  if (s.n === 0) return "–";
  return `${s.median.toFixed(digits)} ${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Medians of the pairwise ratios b/a, with their range: each pair ran back to back, so drift cancels within it. */
export function pairedRatios(a: readonly number[], b: readonly number[]): Spread {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) ratios.push((b[i] as number) / (a[i] as number));
  return spread(ratios);
}

export function pairedDifferences(a: readonly number[], b: readonly number[]): Spread {
  const diffs: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) diffs.push((b[i] as number) - (a[i] as number));
  return spread(diffs);
}

// Spike detection for the spend chart: a bucket is a spike when its cost is more than
// `factor` times the median of the trailing `window` buckets and at least `minUsd` (so a
// jump from $0.001 to $0.004 is not an alarm). Buckets with no calls count as $0.

export interface SpikeOptions {
  factor: number;
  window: number;
  minUsd: number;
  /** Buckets of history needed before anything can be flagged. */
  minHistory: number;
}

export const DEFAULT_SPIKES: SpikeOptions = { factor: 3, window: 12, minUsd: 1, minHistory: 3 };

export interface Spike {
  grp: string;
  index: number;
  cost: number;
  baseline: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** `series` maps a group to its cost per bucket (same length for every group). */
export function findSpikes(series: ReadonlyMap<string, readonly number[]>, o: SpikeOptions = DEFAULT_SPIKES): Spike[] {
  const out: Spike[] = [];
  for (const [grp, costs] of series) {
    for (let i = o.minHistory; i < costs.length; i++) {
      const cost = costs[i] ?? 0;
      const baseline = median(costs.slice(Math.max(0, i - o.window), i) as number[]);
      if (cost >= o.minUsd && cost > o.factor * baseline) out.push({ grp, index: i, cost, baseline });
    }
  }
  return out.sort((a, b) => b.cost - a.cost);
}

/** Bucket start times from `from` to `to` (exclusive) every `stepMs`, aligned to the step. */
export function bucketStarts(fromMs: number, toMs: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(fromMs / stepMs) * stepMs; t < toMs; t += stepMs) out.push(t);
  return out;
}

/** A dense group → values-per-bucket matrix from sparse (bucket, group, value) points. */
export function densify<P extends { bucket: string; grp: string }>(points: readonly P[], starts: readonly number[], value: (p: P) => number): Map<string, number[]> {
  const index = new Map(starts.map((t, i) => [t, i]));
  const out = new Map<string, number[]>();
  for (const p of points) {
    const i = index.get(Date.parse(p.bucket));
    if (i === undefined) continue;
    let row = out.get(p.grp);
    if (!row) out.set(p.grp, (row = starts.map(() => 0)));
    row[i] = (row[i] ?? 0) + value(p);
  }
  return out;
}

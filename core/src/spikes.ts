// Spike detection, shared by the spend chart's markers (ui/src/lib/spikes.ts) and the
// `spend_spike` alert rule (core/src/alerts): a bucket is a spike when its cost is more than
// `factor` times the median of the trailing `window` buckets and at least `minUsd` (so a jump
// from $0.001 to $0.004 is not an alarm). Buckets with no calls count as $0.

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

export function median(xs: readonly number[]): number {
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
      const baseline = median(costs.slice(Math.max(0, i - o.window), i));
      if (cost >= o.minUsd && cost > o.factor * baseline) out.push({ grp, index: i, cost, baseline });
    }
  }
  return out.sort((a, b) => b.cost - a.cost);
}

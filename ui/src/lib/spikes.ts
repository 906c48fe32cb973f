// Spike detection for the spend chart lives in core (shared with the spend_spike alert rule);
// this module adds the chart's bucket helpers.
export { DEFAULT_SPIKES, findSpikes, type Spike, type SpikeOptions } from '@gatelog/core/spikes';

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

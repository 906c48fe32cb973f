import { error } from '@sveltejs/kit';
import { LATENCY_GROUPS, latencySeries, latencyTotals, type LatencyGroup, type LatencyPoint } from '@gatelog/core/store/dashboard-queries';
import { parseRange } from '#lib/range.ts';
import { bucketStarts } from '#lib/spikes.ts';
import { renderChart } from '#lib/server/charts.server.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { scopeOf } from '#lib/server/permissions.server.ts';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import type { PageServerLoad } from './$types';

const QUANTILES = { p50: 0, p95: 1, p99: 2 } as const;
type Q = keyof typeof QUANTILES;

/** One line per group; null where a bucket had no value (a gap, not a fake zero; an isolated value is drawn as a marker). */
function lines(points: LatencyPoint[], starts: number[], pick: (p: LatencyPoint) => number | null): { name: string; values: (number | null)[] }[] {
  const index = new Map(starts.map((t, i) => [t, i]));
  const out = new Map<string, (number | null)[]>();
  for (const p of points) {
    const i = index.get(Date.parse(p.bucket));
    if (i === undefined) continue;
    let row = out.get(p.grp);
    if (!row) out.set(p.grp, (row = starts.map(() => null)));
    row[i] = pick(p);
  }
  return [...out].map(([name, values]) => ({ name: name || '(none)', values }));
}

export const load: PageServerLoad = async ({ url, locals }) => {
  const range = readOr400(() => parseRange(url.searchParams, '24h'));
  const byParam = url.searchParams.get('by') ?? 'model';
  const by: LatencyGroup = Object.hasOwn(LATENCY_GROUPS, byParam) ? (byParam as LatencyGroup) : 'model';
  const qParam = url.searchParams.get('q') ?? 'p95';
  const q: Q = Object.hasOwn(QUANTILES, qParam) ? (qParam as Q) : 'p95';
  const qi = QUANTILES[q];
  const { store } = await uiContext();
  try {
    const scope = scopeOf(locals.principal);
    const [points, totals] = await Promise.all([latencySeries(store, { ...range, by, ...scope }), latencyTotals(store, { ...range, by, ...scope })]);
    const starts = bucketStarts(Date.parse(range.from), Date.parse(range.to), range.bucketSeconds * 1000);
    const latencyChart = renderChart({ kind: 'line', times: starts, series: lines(points, starts, (p) => p.latency[qi] ?? null), yName: `${q} ms` });
    const ttftChart = renderChart({ kind: 'line', times: starts, series: lines(points, starts, (p) => p.ttft[qi] ?? null), yName: `${q} TTFT ms`, height: 260 });
    const errorChart = renderChart({ kind: 'line', times: starts, series: lines(points, starts, (p) => (p.calls ? (100 * p.errors) / p.calls : null)), yName: 'errors %', height: 220 });
    return { range, by, q, latencyChart, ttftChart, errorChart, totals };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: latency dashboard failed', err);
    error(503, 'The latency rollups are not available right now.');
  }
};

import { error } from '@sveltejs/kit';
import { spendSeries, spendTop, type SpendPoint, type SpendTotal } from '@gatelog/core/store/dashboard-queries';
import { OTHER, rawSpendSeries, rawSpendTop, tagKeys } from '@gatelog/core/store/spend-queries';
import { repricedSummary } from '@gatelog/core/store/reprice';
import { Amount, readParams, Text } from '@gatelog/core/store/read-params';
import { explorerQuery } from '#lib/explorer.ts';
import { parseRange } from '#lib/range.ts';
import { bucketStarts, DEFAULT_SPIKES, densify, findSpikes } from '#lib/spikes.ts';
import { callsHref, SPEND_DIMS, type SpendDim } from '#lib/spend-links.ts';
import { renderChartMap } from '#lib/server/charts.server.ts';
import { budgets } from '#lib/server/budgets.server.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { scopeOf } from '#lib/server/permissions.server.ts';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import type { PageServerLoad } from './$types';

/** The spend chart's size in the image's own pixels; the page scales it to its box (the areas with it). */
const CHART = { width: 1280, height: 360 };
const TAG_WINDOW_MS = 86_400_000;

export const load: PageServerLoad = async ({ url, locals }) => {
  const range = readOr400(() => parseRange(url.searchParams, '24h'));
  const { tag: tagParam, min } = readOr400(() => readParams({ tag: Text.optional(), min: Amount.optional() }, url.searchParams));
  const byParam = url.searchParams.get('by') ?? 'model';
  const by: SpendDim = (SPEND_DIMS as readonly string[]).includes(byParam) ? (byParam as SpendDim) : 'model';
  const minUsd = min !== undefined && Number(min) > 0 ? Number(min) : DEFAULT_SPIKES.minUsd;
  const { store, teamBudgets } = await uiContext();
  const scope = scopeOf(locals.principal);
  try {
    // The tag picker offers the keys used in the range's last day (a scan of the tags column of a
    // 30-day range would cost more than the whole page); any other key can still be asked for by name.
    const keys = await tagKeys(store, { from: new Date(Math.max(Date.parse(range.from), Date.parse(range.to) - TAG_WINDOW_MS)).toISOString(), to: range.to, ...scope });
    if (tagParam && !keys.includes(tagParam)) keys.unshift(tagParam);
    // The tag whose values are a dimension here (by=tag) and on the spike pages: the one picked, else the most used.
    const tagKey = tagParam ?? keys[0] ?? '';
    const raw = by === 'user' || by === 'tag';
    const [points, top, money]: [SpendPoint[], SpendTotal[], Awaited<ReturnType<typeof budgets>>] = await Promise.all([
      raw ? rawSpendSeries(store, { ...range, by, tagKey, ...scope }) : spendSeries(store, { ...range, by, ...scope }),
      raw ? rawSpendTop(store, { ...range, by, tagKey, limit: 10, ...scope }) : spendTop(store, { ...range, by, limit: 10, ...scope }),
      budgets(store, teamBudgets ?? {}, scope.teams),
    ]);
    const step = range.bucketSeconds * 1000;
    const starts = bucketStarts(Date.parse(range.from), Date.parse(range.to), step);
    const matrix = densify(points, starts, (p) => p.cost_usd);
    const bucketOf = (i: number): { from: string; to: string } => ({ from: new Date(starts[i]!).toISOString(), to: new Date(starts[i]! + step).toISOString() });
    const spikes = findSpikes(matrix, { ...DEFAULT_SPIKES, minUsd }).slice(0, 20).map((s) => {
      const { from, to } = bucketOf(s.index);
      const explain = new URLSearchParams({ at: from, bucket: String(range.bucketSeconds), base: String(Math.min(DEFAULT_SPIKES.window, s.index)) });
      if (tagKey) explain.set('tag', tagKey);
      // The series that spiked (not the sum of the others, `(other)`).
      if (s.grp !== OTHER) {
        explain.set('dim', by);
        explain.set('value', s.grp);
      }
      return { ...s, from, to, href: callsHref(by, s.grp, from, to, tagKey) ?? `/requests${explorerQuery({ from, to })}`, explain: `/spend/spike?${explain.toString()}` };
    });
    const names = (grp: string): string => grp || '(none)';
    const spikeAt = new Map(spikes.map((s) => [`${names(s.grp)}@${s.index}`, s]));
    const bucketHref = (i: number): string => `/requests${explorerQuery(bucketOf(i))}`;
    const chart = renderChartMap(
      { kind: 'stacked-bar', times: starts, series: [...matrix].map(([name, values]) => ({ name: names(name), values })), yName: 'USD', marks: spikes.map((s) => ({ series: names(s.grp), index: s.index })), ...CHART },
      {
        mark: (series, i) => {
          const s = spikeAt.get(`${series}@${i}`);
          return { href: s?.href ?? bucketHref(i), alt: `Spike: ${series}, ${new Date(starts[i]!).toISOString()}${s ? `, ${s.cost.toFixed(2)} USD` : ''}` };
        },
        bucket: (i) => ({ href: bucketHref(i), alt: `Calls from ${new Date(starts[i]!).toISOString()}` }),
      },
    );
    const rows = top.map((t) => ({ ...t, href: callsHref(by, t.grp, range.from, range.to, tagKey) }));
    // Calls in range whose cost `gatelog reprice` recomputed: the page says so.
    const repriced = await repricedSummary(store, new Date(range.from), new Date(range.to), scope.teams);
    return { range, by, tagKey, tagKeys: keys, minUsd, chart, top: rows, spikes, budgets: money, points: points.length, repriced };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: spend dashboard failed', err);
    error(503, 'The spend rollups are not available right now.');
  }
};

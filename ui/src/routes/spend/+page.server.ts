import { error } from '@sveltejs/kit';
import { SPEND_GROUPS, spendSeries, spendTop, type SpendGroup } from '@gatelog/core/store/dashboard-queries';
import { explorerQuery } from '#lib/explorer.ts';
import { parseRange } from '#lib/range.ts';
import { bucketStarts, DEFAULT_SPIKES, densify, findSpikes } from '#lib/spikes.ts';
import { renderChart } from '#lib/server/charts.server.ts';
import { uiContext } from '#lib/server/context.server.ts';
import type { PageServerLoad } from './$types';

/** Explorer field for each spend dimension (the key dimension matches id or name). */
const FIELD = { model: 'model', key: 'key', team: 'team' } as const;

export const load: PageServerLoad = async ({ url }) => {
  const range = parseRange(url.searchParams, '24h');
  const byParam = url.searchParams.get('by') ?? 'model';
  const by: SpendGroup = Object.hasOwn(SPEND_GROUPS, byParam) ? (byParam as SpendGroup) : 'model';
  const minParam = Number(url.searchParams.get('min') ?? '');
  const minUsd = Number.isFinite(minParam) && minParam > 0 ? minParam : DEFAULT_SPIKES.minUsd;
  const { store } = await uiContext();
  try {
    const [points, top] = await Promise.all([
      spendSeries(store, { ...range, by }),
      spendTop(store, { ...range, by, limit: 10 }),
    ]);
    const step = range.bucketSeconds * 1000;
    const starts = bucketStarts(Date.parse(range.from), Date.parse(range.to), step);
    const matrix = densify(points, starts, (p) => p.cost_usd);
    const spikes = findSpikes(matrix, { ...DEFAULT_SPIKES, minUsd }).slice(0, 20).map((s) => {
      const from = new Date(starts[s.index]!).toISOString();
      const to = new Date(starts[s.index]! + step).toISOString();
      return { ...s, from, to, href: `/requests${explorerQuery({ from, to, [FIELD[by]]: s.grp })}` };
    });
    const chart = renderChart({
      kind: 'stacked-bar',
      times: starts,
      series: [...matrix].map(([name, values]) => ({ name: name || '(none)', values })),
      yName: 'USD',
      marks: spikes.map((s) => ({ series: s.grp || '(none)', index: s.index })),
    });
    return { range, by, minUsd, chart, top, spikes, points: points.length };
  } catch (err) {
    console.error('gatelog ui: spend dashboard failed', err);
    error(503, 'The spend rollups are not available right now.');
  }
};

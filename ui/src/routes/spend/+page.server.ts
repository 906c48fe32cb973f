import { error } from '@sveltejs/kit';
import { SPEND_GROUPS, spendSeries, spendTop, type SpendGroup } from '@gatelog/core/store/dashboard-queries';
import { explorerQuery } from '#lib/explorer.ts';
import { parseRange } from '#lib/range.ts';
import { bucketStarts, DEFAULT_SPIKES, densify, findSpikes } from '#lib/spikes.ts';
import { renderChartMap } from '#lib/server/charts.server.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { scopeOf } from '#lib/server/permissions.server.ts';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import type { PageServerLoad } from './$types';

/** Explorer field for each spend dimension (the key dimension matches id or name). */
const FIELD = { model: 'model', key: 'key', team: 'team' } as const;

export const load: PageServerLoad = async ({ url, locals }) => {
  const range = readOr400(() => parseRange(url.searchParams, '24h'));
  const byParam = url.searchParams.get('by') ?? 'model';
  const by: SpendGroup = Object.hasOwn(SPEND_GROUPS, byParam) ? (byParam as SpendGroup) : 'model';
  const minParam = Number(url.searchParams.get('min') ?? '');
  const minUsd = Number.isFinite(minParam) && minParam > 0 ? minParam : DEFAULT_SPIKES.minUsd;
  const { store } = await uiContext();
  try {
    const [points, top] = await Promise.all([
      spendSeries(store, { ...range, by, ...scopeOf(locals.principal) }),
      spendTop(store, { ...range, by, limit: 10, ...scopeOf(locals.principal) }),
    ]);
    const step = range.bucketSeconds * 1000;
    const starts = bucketStarts(Date.parse(range.from), Date.parse(range.to), step);
    const matrix = densify(points, starts, (p) => p.cost_usd);
    const spikes = findSpikes(matrix, { ...DEFAULT_SPIKES, minUsd }).slice(0, 20).map((s) => {
      const from = new Date(starts[s.index]!).toISOString();
      const to = new Date(starts[s.index]! + step).toISOString();
      return { ...s, from, to, href: `/requests${explorerQuery({ from, to, [FIELD[by]]: s.grp })}` };
    });
    const names = (grp: string): string => grp || '(none)';
    const spikeAt = new Map(spikes.map((s) => [`${names(s.grp)}@${s.index}`, s]));
    const bucketHref = (i: number): string => `/requests${explorerQuery({ from: new Date(starts[i]!).toISOString(), to: new Date(starts[i]! + step).toISOString() })}`;
    const chart = renderChartMap(
      {
        kind: 'stacked-bar',
        times: starts,
        series: [...matrix].map(([name, values]) => ({ name: names(name), values })),
        yName: 'USD',
        marks: spikes.map((s) => ({ series: names(s.grp), index: s.index })),
      },
      {
        mark: (series, i) => {
          const s = spikeAt.get(`${series}@${i}`);
          return { href: s?.href ?? bucketHref(i), alt: `Spike: ${series}, ${new Date(starts[i]!).toISOString()}${s ? `, ${s.cost.toFixed(2)} USD` : ''}` };
        },
        bucket: (i) => ({ href: bucketHref(i), alt: `Calls from ${new Date(starts[i]!).toISOString()}` }),
      },
    );
    return { range, by, minUsd, chart, top, spikes, points: points.length };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: spend dashboard failed', err);
    error(503, 'The spend rollups are not available right now.');
  }
};

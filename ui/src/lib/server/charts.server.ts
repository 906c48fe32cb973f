// Charts rendered on the server by ECharts (SSR, SVG renderer) and shipped as an <img> with
// a data: URL. Why: the pages stay script-free and the CSP stays strict (ECharts' SVG uses
// inline style attributes, which `style-src 'self'` would refuse in the page but which are
// private to an image document), and markup from logged names (model, key, team) cannot
// run anywhere, since an SVG image never executes script. uPlot was the other candidate:
// smaller on the client (~50 kB), but it needs a DOM, so client JS plus CSP exceptions.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkPointComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import { READ_BOUNDS } from '@gatelog/core/store/read-params';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, MarkPointComponent, TitleComponent, SVGRenderer]);

export interface ChartSeries {
  name: string;
  values: (number | null)[];
}

export interface ChartSpec {
  kind: 'stacked-bar' | 'line';
  times: number[];
  series: ChartSeries[];
  yName: string;
  /** Points to mark (series name, bucket index), e.g. spend spikes. */
  marks?: { series: string; index: number }[];
  width?: number;
  height?: number;
}

/** One clickable region of a chart image, in the image's own pixels (an HTML `<area>`). */
export interface ChartArea {
  shape: 'rect' | 'circle';
  coords: number[];
  href: string;
  alt: string;
}

export interface ChartImage {
  src: string;
  width: number;
  height: number;
  areas: ChartArea[];
}

/** Where the areas of a stacked-bar chart lead: one mark (spike), or a whole bucket. */
export interface ChartLinks {
  mark: (series: string, index: number) => { href: string; alt: string };
  bucket?: (index: number) => { href: string; alt: string };
}

const PIN_SIZE = 34;

/** Stack totals below and up to each bar segment, in series order (as ECharts stacks them). */
function stackBounds(spec: ChartSpec): { bottom: number[][]; top: number[][] } {
  const acc = spec.times.map(() => 0);
  const bottom: number[][] = [];
  const top: number[][] = [];
  for (const s of spec.series) {
    bottom.push([...acc]);
    s.values.forEach((v, i) => (acc[i] = (acc[i] ?? 0) + (v ?? 0)));
    top.push([...acc]);
  }
  return { bottom, top };
}

/**
 * Drawing costs grow with points × series and run on the event loop: callers bound the
 * range (read-params.ts bucketFor); this refuses anything past that bound rather than block.
 */
const MAX_POINTS = READ_BOUNDS.maxBuckets + 1;

/** The plot's margins inside the image, in pixels (tests place points with them). */
export const GRID = { left: 64, right: 24, top: 48, bottom: 32 } as const;

/**
 * The x axis spans the buckets exactly (bars: half a step either side), so the plot fills its
 * box whatever the data; ECharts' own "nice" bounds could leave a third of it empty.
 */
export function xBounds(spec: Pick<ChartSpec, 'kind' | 'times'>): { min: number; max: number } | undefined {
  const first = spec.times[0];
  const last = spec.times[spec.times.length - 1];
  if (first === undefined || last === undefined) return undefined;
  const half = spec.kind === 'stacked-bar' && spec.times.length > 1 ? (spec.times[1]! - first) / 2 : 0;
  return last > first ? { min: first - half, max: last + half } : { min: first - 60_000, max: last + 60_000 };
}

/**
 * A line's data: a value with no value on either side is drawn as a marker, since a line
 * through one point draws nothing; missing values stay gaps (connectNulls: false).
 */
function lineData(s: ChartSeries, times: number[]): unknown[] {
  return s.values.map((v, i) => {
    const isolated = v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null;
    return isolated ? { value: [times[i], v], symbol: 'circle', symbolSize: 8 } : [times[i], v];
  });
}

function draw<T>(spec: ChartSpec, after: (chart: ReturnType<typeof echarts.init>, svg: string) => T): T {
  if (spec.times.length > MAX_POINTS) throw new RangeError(`A chart has at most ${MAX_POINTS} points; got ${spec.times.length}.`);
  const width = spec.width ?? 960;
  const height = spec.height ?? 320;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  const stacked = spec.kind === 'stacked-bar';
  const bounds = stacked ? stackBounds(spec) : undefined;
  try {
    chart.setOption({
      animation: false,
      legend: { type: 'plain', top: 0 },
      grid: { ...GRID },
      xAxis: { type: 'time', ...xBounds(spec) },
      yAxis: { type: 'value', name: spec.yName },
      series: spec.series.map((s, k) => ({
        name: s.name,
        type: stacked ? 'bar' : 'line',
        stack: stacked ? 'total' : undefined,
        // Lines: no marker on every point, only on isolated ones (per-item symbol, lineData).
        ...(stacked ? { showSymbol: false } : { showSymbol: true, showAllSymbol: true, symbol: 'none' }),
        connectNulls: false,
        data: stacked ? s.values.map((v, i) => [spec.times[i], v]) : lineData(s, spec.times),
        markPoint: {
          symbol: 'pin',
          symbolSize: PIN_SIZE,
          itemStyle: { color: '#b3261e' },
          label: { formatter: '!' },
          // A mark's coord is read on the axis as given: on a stack, point at the segment's top.
          data: (spec.marks ?? []).filter((m) => m.series === s.name).map((m) => ({ coord: [spec.times[m.index], bounds ? bounds.top[k]![m.index] : s.values[m.index]] })),
        },
      })),
    });
    return after(chart, chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}

const dataUrl = (svg: string): string => `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;

export function renderChart(spec: ChartSpec): string {
  return draw(spec, (_, svg) => dataUrl(svg));
}

/**
 * A stacked-bar chart plus the image-map areas over it, so a click on a spike (its pin or its
 * bar segment) or on any bucket's column opens the calls behind it with no client script.
 * The areas' pixels come from the same ECharts instance that drew the image
 * (`convertToPixel`), so they sit where the bars are. Marks come first: in an image map the
 * first area containing the click wins, and a spike is inside its bucket's column.
 */
export function renderChartMap(spec: ChartSpec, links: ChartLinks): ChartImage {
  const width = spec.width ?? 960;
  const height = spec.height ?? 320;
  return draw({ ...spec, kind: 'stacked-bar' }, (chart, svg) => {
    const { bottom, top } = stackBounds(spec);
    const px = (t: number, v: number): [number, number] => {
      const p = chart.convertToPixel({ gridIndex: 0 }, [t, v]) as number[];
      return [p[0] ?? 0, p[1] ?? 0];
    };
    const step = spec.times.length > 1 ? spec.times[1]! - spec.times[0]! : 0;
    // A bucket's slot: half the distance to the neighbouring bucket on each side.
    const half = step ? Math.max(2, (px(spec.times[0]! + step, 0)[0] - px(spec.times[0]!, 0)[0]) / 2) : 8;
    const r = (n: number): number => Math.round(n);
    const areas: ChartArea[] = [];
    for (const m of spec.marks ?? []) {
      const k = spec.series.findIndex((s) => s.name === m.series);
      const t = spec.times[m.index];
      if (k < 0 || t === undefined) continue;
      const [x, yTop] = px(t, top[k]![m.index]!);
      const yBottom = px(t, bottom[k]![m.index]!)[1];
      const link = links.mark(m.series, m.index);
      // The pin stands on the segment's top; its head is about one pin-half above.
      areas.push({ shape: 'circle', coords: [r(x), r(yTop - PIN_SIZE / 2), PIN_SIZE / 2], ...link });
      areas.push({ shape: 'rect', coords: [r(x - half), r(Math.min(yTop, yBottom - 6)), r(x + half), r(yBottom)], ...link });
    }
    if (links.bucket) {
      spec.times.forEach((t, i) => {
        const total = top[top.length - 1]?.[i] ?? 0;
        if (!(total > 0)) return;
        const [x, yTop] = px(t, total);
        const yBase = px(t, 0)[1];
        areas.push({ shape: 'rect', coords: [r(x - half), r(Math.min(yTop, yBase - 6)), r(x + half), r(yBase)], ...links.bucket!(i) });
      });
    }
    return { src: dataUrl(svg), width, height, areas };
  });
}

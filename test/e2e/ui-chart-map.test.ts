// The spend chart's image map: its areas sit on what the SVG draws (the spike's pin, each
// bucket's column), and link where the caller said. Plus the UI bench's BENCHMARKS.md section
// splice, which must survive the main bench run's rewrite.
import { describe, expect, it } from 'vitest';
import { GRID, renderChart, renderChartMap, type ChartSpec } from '../../ui/src/lib/server/charts.server.ts';
import { spliceUiSection, UI_HEADING } from '../bench/ui-report.ts';

const T0 = Date.UTC(2026, 0, 1);
const STEP = 3_600_000;
const times = Array.from({ length: 12 }, (_, i) => T0 + i * STEP);
const spec: ChartSpec = {
  kind: 'stacked-bar',
  times,
  series: [
    { name: 'steady', values: times.map(() => 1) },
    { name: 'spiky', values: times.map((_, i) => (i === 8 ? 9 : i === 3 ? 0 : 0.5)) },
  ],
  yName: 'USD',
  marks: [{ series: 'spiky', index: 8 }],
};

function svgOf(src: string): string {
  return Buffer.from(src.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString();
}

describe('renderChartMap', () => {
  const img = renderChartMap(spec, {
    mark: (s, i) => ({ href: `/requests?model=${s}&i=${i}`, alt: `spike ${s}` }),
    bucket: (i) => ({ href: `/requests?i=${i}`, alt: `bucket ${i}` }),
  });
  const svg = svgOf(img.src);

  it('puts the spike areas over the pin the SVG draws, before any column', () => {
    const pin = /<path [^>]*transform="matrix\([\d.]+,0,0,[\d.]+,([\d.]+),([\d.]+)\)" fill="#b3261e"/.exec(svg);
    expect(pin).not.toBeNull();
    const [x, y] = [Number(pin![1]), Number(pin![2])];
    const [circle, rect] = img.areas;
    expect(circle?.shape).toBe('circle');
    expect(circle?.href).toBe('/requests?model=spiky&i=8');
    const [cx, cy, r] = circle!.coords as [number, number, number];
    expect(Math.hypot(cx - x, cy - (y - 12))).toBeLessThan(r);
    // The segment's rect spans the pin's x and ends at the top of the "steady" segment below it.
    expect(rect?.href).toBe('/requests?model=spiky&i=8');
    expect(rect!.coords[0]! < x && x < rect!.coords[2]!).toBe(true);
    expect(Math.abs(rect!.coords[1]! - y)).toBeLessThanOrEqual(1);
  });

  it('has one column per bucket with calls, left to right, each containing its bars', () => {
    const cols = img.areas.filter((a) => a.href.startsWith('/requests?i='));
    expect(cols.map((a) => a.href)).toEqual(times.map((_, i) => `/requests?i=${i}`));
    for (let i = 1; i < cols.length; i++) expect(cols[i]!.coords[0]!).toBeGreaterThanOrEqual(cols[i - 1]!.coords[2]! - 1);
    // The spike's column is the tallest: its top is above every other column's.
    const tops = cols.map((c) => c.coords[1]!);
    expect(Math.min(...tops)).toBe(tops[8]);
    expect(img.width).toBe(960);
    expect(svg).toContain('width="960"');
  });
});

describe('line charts with sparse data', () => {
  // One series with traffic in bucket 5 only, one with a run (2–4) and a gap, one lone value at each end.
  const values = (on: (i: number) => number | null): (number | null)[] => times.map((_, i) => on(i));
  const svg2 = svgOf(renderChart({
    kind: 'line', times, yName: 'ms',
    series: [
      { name: 'lonely', values: values((i) => (i === 5 ? 300 : null)) },
      { name: 'run', values: values((i) => (i >= 2 && i <= 4 ? 100 : i === 0 || i === 11 ? 50 : null)) },
    ],
  }));
  const markers = [...svg2.matchAll(/<path [^>]*transform="matrix\([\d.]+,0,0,[\d.]+,([\d.]+),([\d.]+)\)"[^>]*ecmeta_series_index="(\d)" ecmeta_data_index="(\d+)"/g)]
    .map((m) => ({ x: Number(m[1]), series: Number(m[3]), index: Number(m[4]) }));

  it('marks isolated values only, where their bucket is on an axis spanning the buckets', () => {
    expect(markers.map((m) => `${m.series}:${m.index}`).sort()).toEqual(['0:5', '1:0', '1:11']);
    const x = (i: number): number => GRID.left + (i / (times.length - 1)) * (960 - GRID.left - GRID.right);
    for (const m of markers) expect(Math.abs(m.x - x(m.index))).toBeLessThan(1);
  });

  it('draws the run as a line and leaves the empty buckets as gaps', () => {
    // The series' line is one path: a segment per run of values, a move (nothing drawn) over each gap.
    const lines = [...svg2.matchAll(/<path d="(M[^"]*)" fill="none"[^>]*stroke-width="2"/g)].map((m) => m[1]!);
    const run = lines.find((d) => d.includes('L'))!;
    expect(run.split('M').filter(Boolean).map((seg) => (seg.match(/L/g) ?? []).length).sort()).toEqual([0, 0, 2]);
  });
});

describe('spliceUiSection', () => {
  const section = `${UI_HEADING}\n\nnew numbers\n`;
  it('appends after the notes, then replaces only itself', () => {
    const base = '# gatelog benchmarks\n\nmain\n\n## Ingest: x\n\ningest\n\n## Notes (kept across runs)\n\nhand-written\n';
    const once = spliceUiSection(base, section);
    expect(once.indexOf(UI_HEADING)).toBeGreaterThan(once.indexOf('## Notes (kept across runs)'));
    expect(once.startsWith(base.trimEnd())).toBe(true);
    const twice = spliceUiSection(`${once}\n## Later\n\nkept\n`, `${UI_HEADING}\n\nnewer\n`);
    expect(twice).toContain('newer');
    expect(twice).not.toContain('new numbers');
    expect(twice).toContain('## Later\n\nkept');
    expect(twice).toContain('hand-written');
  });
});

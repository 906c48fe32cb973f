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

export function renderChart(spec: ChartSpec): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: spec.width ?? 960, height: spec.height ?? 320 });
  try {
    chart.setOption({
      animation: false,
      legend: { type: 'plain', top: 0 },
      grid: { left: 64, right: 24, top: 48, bottom: 32 },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', name: spec.yName },
      series: spec.series.map((s) => ({
        name: s.name,
        type: spec.kind === 'line' ? 'line' : 'bar',
        stack: spec.kind === 'stacked-bar' ? 'total' : undefined,
        showSymbol: false,
        connectNulls: false,
        data: s.values.map((v, i) => [spec.times[i], v]),
        markPoint: {
          symbol: 'pin',
          symbolSize: 34,
          itemStyle: { color: '#b3261e' },
          label: { formatter: '!' },
          data: (spec.marks ?? []).filter((m) => m.series === s.name).map((m) => ({ coord: [spec.times[m.index], s.values[m.index]] })),
        },
      })),
    });
    const svg = chart.renderToSVGString();
    return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  } finally {
    chart.dispose();
  }
}

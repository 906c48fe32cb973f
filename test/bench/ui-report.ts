// The "UI pages at 10 million calls" section of BENCHMARKS.md, written by
// `node test/bench/ui-pages.ts`. It lives after the notes heading: the main bench run
// (run.ts) regenerates what is above "## Ingest", carries the Ingest section over, and keeps
// everything from "## Notes (kept across runs)" on verbatim, so a section there survives it,
// and `--ingest` only replaces its own section.
export const UI_HEADING = '## UI pages at 10 million calls (`node test/bench/ui-pages.ts`)';

export interface PageTiming {
  page: string;
  /** What the page runs (queries), for the reader. */
  what: string;
  firstMs: number;
  bestMs: number;
  targetMs: number;
  /**
   * Judge by the first request: a new text search is always cold; repeating one hits
   * ClickHouse's query condition cache, which the "best" runs measure.
   */
  judgeFirst?: boolean;
}

export interface ExportTiming {
  format: 'csv' | 'jsonl';
  filter: string;
  rows: number;
  bytes: number;
  seconds: number;
  peakRssMb: number;
}

export interface UiBenchInfo {
  date: string;
  machine: string;
  load: [number, number];
  rows: number;
  days: number;
  loadS: number | null;
  loadedAt: string;
  storeNote: string;
  runs: number;
  pages: PageTiming[];
  exports: ExportTiming[];
  notes: string[];
}

export const EXPORT_TARGET_ROWS_S = 100_000;

const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n < 10 ? n.toFixed(1) : f0(n));
const mark = (ok: boolean): string => (ok ? 'PASS' : '**MISS**');

export function uiSection(info: UiBenchInfo): string {
  const load = info.loadS === null ? `reused a store loaded ${info.loadedAt}` : `loaded in ${f0(info.loadS)} s (${f0(info.rows / info.loadS)} calls/s, generated inside ClickHouse)`;
  const pages = [
    `| page | what it runs | first request | best of ${info.runs} | target | |`,
    '|---|---|---:|---:|---:|---|',
    ...info.pages.map((p) => `| ${p.page} | ${p.what} | ${ms(p.firstMs)} ms | ${ms(p.bestMs)} ms | < ${f0(p.targetMs)} ms | ${p.judgeFirst ? `${mark(p.firstMs < p.targetMs)} (first request)` : mark(p.bestMs < p.targetMs)} |`),
  ];
  const exports = [
    '| export | filter | rows | MiB | seconds | rows/s at the HTTP client | peak RSS of the UI process (with chDB) | target | |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...info.exports.map((e) => {
      const rate = e.rows / e.seconds;
      return `| ${e.format.toUpperCase()} | ${e.filter} | ${f0(e.rows)} | ${f0(e.bytes / 2 ** 20)} | ${e.seconds.toFixed(1)} | ${f0(rate)} | ${f0(e.peakRssMb)} MiB | >= ${f0(EXPORT_TARGET_ROWS_S)} | ${mark(rate >= EXPORT_TARGET_ROWS_S)} |`;
    }),
  ];
  return `${UI_HEADING}

${info.date} · ${info.machine} · load ${info.load.map((l) => l.toFixed(2)).join(' → ')} · ${f0(info.rows)} calls over ${info.days} days · ${load} · ${info.storeNote}

Server time is measured at an HTTP client on loopback against the built UI handler
(\`ui/build/handler.js\`, the one the launcher mounts) with the store injected: the whole
page — every query it runs, zod parsing, chart rendering, SSR — until the last byte of the
response. "First request" is each page's first hit after the store is opened (a cold query
for that page); "best" is the best of the ${info.runs} runs that follow, and is what is judged,
except for text searches: a new search is always cold, and a repeated one is answered from
ClickHouse's query condition cache, so those are judged by their first request.

${pages.join('\n')}

${exports.join('\n')}

${info.notes.map((n) => `- ${n}`).join('\n')}
`;
}

/** Replace the UI section of BENCHMARKS.md, or append it at the end (after the notes). */
export function spliceUiSection(old: string, section: string): string {
  const at = old.indexOf(UI_HEADING);
  if (at === -1) return old.trim() ? `${old.trimEnd()}\n\n${section}` : section;
  const next = old.indexOf('\n## ', at + UI_HEADING.length);
  return `${old.slice(0, at)}${section}${next === -1 ? '' : old.slice(next)}`;
}

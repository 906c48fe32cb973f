// Export SQL profile: times the export query's per-row work in isolation, on a store loaded by
// ui-pages.ts (e.g. `--data-dir .bench-data/ui-10m`; it exports all of it, so use a small
// store or expect minutes). Each variant runs with FORMAT Null (expressions and read only)
// and streamed as CSV/JSONL bytes, best of --runs.
//   node test/bench/ui-export-profile.ts --data-dir DIR [--runs 3]
import { parseArgs } from 'node:util';
import { openStore, StorageConfig } from '../../core/src/index.ts';
import { exportBytes, exportQuery, type ExportFormat } from '../../core/src/store/export-queries.ts';

const { values: args } = parseArgs({ options: { 'data-dir': { type: 'string' }, runs: { type: 'string', default: '3' } } });
if (!args['data-dir']) throw new Error('--data-dir is required');
const store = await openStore(StorageConfig.parse({}), args['data-dir']);
const runs = Math.max(1, Number(args.runs));
const db = store.database;

interface Variant {
  query: string;
  params: Record<string, unknown>;
  settings?: string;
}

async function timeNull({ query, params, settings }: Variant): Promise<number> {
  const t0 = performance.now();
  await store.client.command({ query: `${query}${settings ? ` SETTINGS ${settings}` : ''} FORMAT Null`, query_params: params });
  return performance.now() - t0;
}

async function timeStream({ query, params, settings }: Variant, format: ExportFormat): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  let bytes = 0;
  for await (const c of store.streamQuery({ query, params, settings, format: format === 'csv' ? 'CSV' : 'JSONEachRow' })) bytes += c.byteLength;
  return { ms: performance.now() - t0, bytes };
}

const countRs = await store.client.query({ query: `SELECT count() AS n FROM ${db}.llm_calls FINAL`, format: 'JSONEachRow' });
const n = Number(((await countRs.json()) as { n: string }[])[0]?.n ?? 0);
console.log(`rows: ${n.toLocaleString('en-US')}`);

const only = process.env['PROFILE_ONLY_UI_PATH'] === '1';
const variants: [string, (f: ExportFormat) => Variant][] = [
  ['export query', (f) => exportQuery(store, {}, f)],
  ['plain SELECT * FINAL', () => ({ query: `SELECT * FROM ${db}.llm_calls FINAL`, params: {} })],
  ['plain SELECT *', () => ({ query: `SELECT * FROM ${db}.llm_calls`, params: {} })],
];
for (const [name, q] of only ? [] : variants) {
  for (const f of ['csv', 'jsonl'] as const) {
    const v = q(f);
    let bestNull = Infinity;
    let best = { ms: Infinity, bytes: 0 };
    for (let i = 0; i < runs; i++) {
      bestNull = Math.min(bestNull, await timeNull(v));
      const s = await timeStream(v, f);
      if (s.ms < best.ms) best = s;
    }
    const rate = (ms: number): string => Math.round(n / (ms / 1000)).toLocaleString('en-US');
    console.log(`| ${name} | ${f} | Null ${bestNull.toFixed(0)} ms (${rate(bestNull)} rows/s) | stream ${best.ms.toFixed(0)} ms (${rate(best.ms)} rows/s, ${(best.bytes / 2 ** 20).toFixed(0)} MiB) |`);
  }
}
// The UI path: the same bytes plus the row counter (JS), and how the chunks come.
for (const f of ['csv', 'jsonl'] as const) {
  let best = Infinity;
  let chunks = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const e = exportBytes(store, {}, f);
    chunks = 0;
    for await (const c of e.chunks) chunks += c.byteLength > 0 ? 1 : 0;
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`| exportBytes (with row counter) | ${f} | ${chunks} chunks | stream ${best.toFixed(0)} ms (${Math.round(n / (best / 1000)).toLocaleString('en-US')} rows/s) |`);
}
await store.close();

// UI server-time benchmark: loads N realistic calls (default 10 million) into an embedded
// store, then times the queries behind each page against the targets (dashboards
// < 1 s, explorer first page < 500 ms, request page < 200 ms, export >= 100k rows/s).
//   node test/bench/ui-pages.ts [--rows N] [--data-dir DIR] [--keep]
// Not run by the tests (a 10M load takes minutes); use --rows 200000 for a quick look.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { migrate, newRequestId, openStore, StorageConfig, type LlmCallEvent } from '../../core/src/index.ts';
import { getCall } from '../../core/src/store/queries.ts';
import { callsInThread, listExplorer } from '../../core/src/store/explorer-queries.ts';
import { latencySeries, latencyTotals, spendSeries, spendTop } from '../../core/src/store/dashboard-queries.ts';
import { exportBytes, exportPages } from '../../core/src/store/export-queries.ts';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '10000000' }, 'data-dir': { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const N = Math.max(1000, Number(args.rows));
const dir = args['data-dir'] ?? mkdtempSync(join(tmpdir(), 'gatelog-ui-bench-'));
const DAYS = 30;
const END = Math.floor(Date.now() / 60_000) * 60_000;
const START = END - DAYS * 86_400_000;

const MODELS = [['gpt-4o-mini', 'openai', 0.00015], ['gpt-4o', 'openai', 0.0025], ['claude-sonnet-4', 'anthropic', 0.003], ['claude-haiku-4', 'anthropic', 0.0008], ['llama-3.1-70b', 'groq', 0.0006]] as const;
const TEAMS = ['search', 'support', 'billing', 'growth', 'platform'];
const WORDS = 'the quick brown fox jumps over a lazy dog while customers ask about refunds invoices shipping latency errors and model pricing'.split(' ');

/** Deterministic pseudo-random numbers, so two runs load the same data. */
let seed = 42;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const sentence = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');

function call(i: number): LlmCallEvent {
  const [model, provider, price] = pick(MODELS);
  const input = 50 + Math.floor(rnd() * 2000);
  const output = 10 + Math.floor(rnd() * 600);
  const stream = rnd() < 0.5;
  const error = rnd() < 0.02;
  const latency = 200 + Math.floor(-Math.log(1 - rnd()) * 900);
  const team = pick(TEAMS);
  const prompt = sentence(20 + Math.floor(rnd() * 200));
  return {
    schema_version: 1, gatelog_version: 'bench', request_id: newRequestId(),
    started_at: new Date(START + Math.floor((i / N) * (END - START))).toISOString(),
    trace_id: `tr-${Math.floor(i / 4)}`, session_id: `se-${Math.floor(i / 40)}`, user: `user-${i % 997}`, tags: { env: i % 3 ? 'prod' : 'staging' },
    key_id: `key_${team}`, key_name: `${team}-key`, team, endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: model, provider, deployment_model: model, upstream_model: model, stream,
    status: error ? 502 : 200, outcome: error ? 'error' : 'success', error_type: error ? 'upstream_error' : '', error_message: error ? 'bad gateway' : '',
    finish_reason: error ? '' : 'stop', input_tokens: input, output_tokens: error ? 0 : output, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: error ? 0 : ((input + 4 * output) / 1000) * price, cache_hit: rnd() < 0.05,
    ttft_ms: stream ? Math.floor(latency / 3) : null, latency_ms: latency, overhead_ms: 0.3 + rnd(),
    attempts: [{ provider, model, status: error ? 502 : 200, error_class: error ? 'upstream_error' : '', latency_ms: latency }],
    request_body: JSON.stringify({ model, messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: prompt }] }),
    response_body: error ? '' : JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: sentence(40) }, finish_reason: 'stop' }] }),
    request_bytes: prompt.length + 100, response_bytes: 400, truncated: false,
  };
}

async function time<T>(fn: () => Promise<T>, runs = 3): Promise<{ ms: number; out: T }> {
  let best = Infinity;
  let out!: T;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    out = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, out };
}

const store = await openStore(StorageConfig.parse({}), dir);
try {
  await migrate(store);
  const t0 = performance.now();
  const BATCH = 50_000;
  for (let i = 0; i < N; i += BATCH) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) lines.push(JSON.stringify(call(j)));
    await store.insertRaw('llm_calls', Buffer.from(lines.join('\n')));
    if ((i / BATCH) % 20 === 0) console.error(`loaded ${Math.min(N, i + BATCH).toLocaleString('en-US')} / ${N.toLocaleString('en-US')}`);
  }
  const loadS = (performance.now() - t0) / 1000;
  const range = { from: new Date(START).toISOString(), to: new Date(END).toISOString() };
  const day = { from: new Date(END - 86_400_000).toISOString(), to: range.to };
  const results: [string, number, string][] = [];
  const first = await time(() => listExplorer(store, day, { limit: 50 }));
  results.push(['explorer, first page (24h)', first.ms, '< 500 ms']);
  results.push(['explorer, model + text search (24h)', (await time(() => listExplorer(store, { ...day, model: 'gpt-4o', text: 'refunds invoices' }, { limit: 50 }))).ms, '< 500 ms']);
  results.push(['explorer, sorted by cost (24h)', (await time(() => listExplorer(store, day, { sort: 'cost', limit: 50 }))).ms, '< 500 ms']);
  const id = first.out.rows[0]?.request_id ?? '';
  results.push(['request page', (await time(() => getCall(store, id))).ms, '< 200 ms']);
  results.push(['trace page', (await time(() => callsInThread(store, 'trace', first.out.rows[0]?.trace_id ?? ''))).ms, '< 200 ms']);
  results.push(['spend, 30d by model (series + top)', (await time(() => Promise.all([spendSeries(store, { ...range, bucketSeconds: 21600, by: 'model' }), spendTop(store, { ...range, by: 'model' })]))).ms, '< 1 s']);
  results.push(['latency, 30d by model (series + totals)', (await time(() => Promise.all([latencySeries(store, { ...range, bucketSeconds: 21600, by: 'model' }), latencyTotals(store, { ...range, by: 'model' })]))).ms, '< 1 s']);
  const exportLimit = Math.min(N, 500_000);
  const e0 = performance.now();
  let exported = 0;
  for await (const page of exportPages(store, range)) {
    exported += page.length;
    if (exported >= exportLimit) break;
  }
  const rate = exported / ((performance.now() - e0) / 1000);
  // The UI's export path: ClickHouse writes the CSV/JSONL bytes, streamed through untouched.
  const streamed: [string, number, number, number, number][] = [];
  for (const format of ['csv', 'jsonl'] as const) {
    const s0 = performance.now();
    const e = exportBytes(store, range, format);
    let bytes = 0;
    let peak = 0;
    for await (const chunk of e.chunks) {
      bytes += chunk.byteLength;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    streamed.push([format, e.rows() / ((performance.now() - s0) / 1000), e.rows(), peak / 2 ** 20, bytes / 2 ** 20]);
  }
  console.log(`\n# UI server time on ${N.toLocaleString('en-US')} calls over ${DAYS} days (load: ${loadS.toFixed(1)} s)\n`);
  console.log('| page | server time (best of 3) | target |\n|---|---:|---|');
  for (const [name, ms, target] of results) console.log(`| ${name} | ${ms.toFixed(1)} ms | ${target} |`);
  console.log(`| export pages, parsed (first ${exported.toLocaleString('en-US')} rows) | ${Math.round(rate).toLocaleString('en-US')} rows/s | (typed rows, not the UI path) |`);
  for (const [format, r, rows, rssMb, mb] of streamed) {
    console.log(`| export ${format}, streamed bytes (${rows.toLocaleString('en-US')} rows, ${mb.toFixed(0)} MiB, peak RSS ${rssMb.toFixed(0)} MiB) | ${Math.round(r).toLocaleString('en-US')} rows/s | >= 100,000 rows/s |`);
  }
} finally {
  await store.close();
  if (!args['data-dir'] && !args.keep) rmSync(dir, { recursive: true, force: true });
}

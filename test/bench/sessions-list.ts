// Times the Sessions list query (core/src/store/session-list-queries.ts) over N generated calls
// in an embedded store: sessions of 20 calls a minute apart starting anywhere in the span, 10%
// of calls without a session, 5 teams, 3 agents. Only the columns the list reads are generated
// (bodies empty: the query never reads them), in one INSERT … SELECT FROM numbers(), so millions
// load in seconds. Times the first page and a later page for the last day and the whole span,
// team-scoped, and filtered by agent; median of RUNS timings each.
//   node test/bench/sessions-list.ts [rows=5000000] [days=7]
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { migrate, openStore, StorageConfig } from '../../core/src/index.ts';
import { listSessions, type SessionListQuery } from '../../core/src/store/session-list-queries.ts';

const RUNS = 5;
const rows = Number(process.argv[2] ?? 5_000_000);
const days = Number(process.argv[3] ?? 7);
// GATELOG_BENCH_DIR keeps the store for the next run (loaded again only if its row count differs).
const kept = process.env['GATELOG_BENCH_DIR'];
const dir = kept ?? mkdtempSync(join(tmpdir(), 'gatelog-bench-sessions-'));
const store = await openStore(StorageConfig.parse({}), dir);
await migrate(store);
const countRs = await store.client.query({ query: `SELECT count() AS n, toUnixTimestamp(max(started_at)) AS last FROM ${store.database}.llm_calls`, format: 'JSONEachRow' });
const loaded = ((await countRs.json()) as { n: string; last: string }[])[0]!;
const reuse = Number(loaded.n) === rows;
const endMs = reuse ? Math.ceil((Number(loaded.last) * 1000) / 86_400_000) * 86_400_000 : Math.floor(Date.now() / 86_400_000) * 86_400_000;
const spanS = days * 86_400 - 20 * 60;
const t0 = performance.now();
if (!reuse) await store.client.command({
  query: `INSERT INTO ${store.database}.llm_calls (schema_version, request_id, started_at, session_id, user, tags, key_id, key_name, team,
            requested_model, provider, status, outcome, cost_usd, latency_ms, input_tokens, output_tokens)
          SELECT 1, generateUUIDv4(number),
                 toDateTime64(${endMs / 1000 - days * 86_400} + cityHash64(intDiv(number, 20)) % ${spanS} + (number % 20) * 60, 3, 'UTC'),
                 if(number % 10 = 0, '', concat('sess_', toString(intDiv(number, 20)))),
                 concat('user-', toString(cityHash64(intDiv(number, 20), 1) % 1000)),
                 map('agent', ['claude-code', 'codex', 'other'][1 + intDiv(number, 20) % 3]),
                 concat('k', toString(intDiv(number, 20) % 20)), concat('key-', toString(intDiv(number, 20) % 20)),
                 ['search', 'support', 'billing', 'growth', 'platform'][1 + intDiv(number, 20) % 5],
                 ['gpt-4o-mini', 'claude-sonnet-4', 'gpt-5-codex'][1 + cityHash64(number) % 3], 'p',
                 if(number % 50 = 0, 500, 200), if(number % 50 = 0, 'error', 'success'),
                 (cityHash64(number, 2) % 1000) / 100000, 200 + cityHash64(number, 3) % 5000, 1000, 100
          FROM numbers(${rows})`,
});
const meta = { endMs, loadS: (performance.now() - t0) / 1000 };
console.log(reuse ? `reusing ${dir}` : `loaded ${rows.toLocaleString('en-US')} calls in ${meta.loadS.toFixed(1)} s`);
const end = new Date(meta.endMs).toISOString();
const dayAgo = new Date(meta.endMs - 86_400_000).toISOString();
const start = new Date(meta.endMs - days * 86_400_000).toISOString();

const count = async (from: string): Promise<{ calls: number; sessions: number }> => {
  const rs = await store.client.query({
    query: `SELECT count() AS calls, uniqExact(session_id) AS sessions FROM ${store.database}.llm_calls WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')} AND session_id != ''`,
    query_params: { from: from.replace('T', ' ').replace('Z', ''), to: end.replace('T', ' ').replace('Z', '') },
    format: 'JSONEachRow',
  });
  const r = ((await rs.json()) as { calls: string; sessions: string }[])[0]!;
  return { calls: Number(r.calls), sessions: Number(r.sessions) };
};

async function time(name: string, q: SessionListQuery): Promise<void> {
  const ms: number[] = [];
  let n = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    n = (await listSessions(store, q)).rows.length;
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`| ${name} | ${n} | ${Math.round(ms[Math.floor(RUNS / 2)]!)} | ${Math.round(ms[RUNS - 1]!)} |`);
}

const day = await count(dayAgo);
const all = await count(start);
console.log(`store: ${rows.toLocaleString('en-US')} calls over ${days} days; last day ${day.calls.toLocaleString('en-US')} calls with a session in ${day.sessions.toLocaleString('en-US')} sessions; whole span ${all.calls.toLocaleString('en-US')} in ${all.sessions.toLocaleString('en-US')}`);
console.log('| query | rows | median ms | max ms |\n|---|---|---|---|');
await time('last 24 h, first page', { from: dayAgo, to: end, limit: 50 });
const p1 = await listSessions(store, { from: dayAgo, to: end, limit: 50 });
await time('last 24 h, second page', { from: dayAgo, to: end, limit: 50, before: p1.next });
await time(`${days} days, first page`, { from: start, to: end, limit: 50 });
await time(`${days} days, one team`, { from: start, to: end, limit: 50, teams: ['search'] });
await time(`${days} days, agent filter`, { from: start, to: end, limit: 50, agent: 'claude-code' });
await store.close();
if (!kept) rmSync(dir, { recursive: true, force: true });

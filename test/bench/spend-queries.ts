// Times the spend page's raw-table queries (user, tag, spike breakdown) and the month-to-date
// rollup read over a generated store (ui-generate.ts: 30 days, spikes seeded), as the spend page
// and the spike page issue them. Usage: node test/bench/spend-queries.ts [rows] (default 1,000,000;
// the store is kept under .bench-data/ui-<rows> and reused by the UI bench).
import { join } from 'node:path';
import { openBenchStore } from './ui-bench-store.ts';
import { SPIKES } from './ui-generate.ts';
import { monthSpend, rawSpendSeries, rawSpendTop, spikeBreakdown, tagKeys } from '../../core/src/store/spend-queries.ts';
import { spendTop } from '../../core/src/store/dashboard-queries.ts';
import { contributors, decompose } from '../../core/src/spend-decompose.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const days = 30;
const { store, meta } = await openBenchStore(join(import.meta.dirname, '..', '..', '.bench-data', `ui-${rows}`), rows, days, (s) => console.log(s));
const iso = (ms: number): string => new Date(ms).toISOString();
const DAY = 86_400_000;
const start = meta.endMs - days * DAY;

async function time<T>(name: string, f: () => Promise<T>): Promise<T> {
  const ms: number[] = [];
  let out: T | undefined;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    out = await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`${name.padEnd(58)} median ${ms[1]!.toFixed(0).padStart(6)} ms (min ${ms[0]!.toFixed(0)}, max ${ms[2]!.toFixed(0)})`);
  return out!;
}

const last24 = { from: iso(meta.endMs - DAY), to: iso(meta.endMs) };
const last30 = { from: iso(start), to: iso(meta.endMs) };
await time('spendTop by model, 30 days (rollups)', () => spendTop(store, { ...last30, by: 'model' }));
await time('rawSpendTop by user, 24 h', () => rawSpendTop(store, { ...last24, by: 'user' }));
await time('rawSpendTop by user, 30 days', () => rawSpendTop(store, { ...last30, by: 'user' }));
await time('rawSpendSeries by user, 30 days, 12 h buckets', () => rawSpendSeries(store, { ...last30, by: 'user', bucketSeconds: 43_200 }));
await time('tagKeys, 30 days', () => tagKeys(store, last30));
await time('monthSpend per key, 30 days + 7-day window (rollups)', () => monthSpend(store, { scope: 'key', monthStart: last30.from, recentFrom: iso(meta.endMs - 7 * DAY), now: last30.to }));
const spike = SPIKES[0]!;
const at = start + spike.day * DAY + spike.hour * 3_600_000;
for (const [label, bucketS] of [['15-min bucket (24 h view)', 900], ['12 h bucket (30-day view)', 43_200]] as const) {
  const baseFrom = iso(at - 12 * bucketS * 1000);
  const r = await time(`spikeBreakdown + decompose, ${label}, 12 base`, async () => {
    const b = await spikeBreakdown(store, { baseFrom, at: iso(at), to: iso(at + bucketS * 1000) });
    const m = b.filter((x) => x.dim === 'model');
    const d = decompose(m.filter((x) => x.side === 'before'), m.filter((x) => x.side === 'after'), 12);
    return { rows: b.length, d, model: contributors(b.filter((x) => x.dim === 'model'), 12, d.delta) };
  });
  console.log(`  ${r.rows} breakdown rows; Δ ${r.d.delta.toFixed(2)} USD; top factor ${r.d.factors[0]?.factor}; top model ${r.model[0]?.value} (${r.model[0]?.driver})`);
}
await store.close();

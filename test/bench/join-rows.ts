// The cost of building one insert body from 10,000 ~2 KB rows (µs of CPU per row, process.cpuUsage):
// a fresh buffer each time (joinRows) against one reused buffer (RowJoiner), alternating, with
// the 1-minute load average. `node --expose-gc test/bench/join-rows.ts [rounds]`
import { loadavg } from 'node:os';
import { RowJoiner, joinRows } from '@gatelog/ingest/insert-batch';
import { realisticEvent, rng } from './ingest-events.ts';

const N = 10_000;
const rounds = Number(process.argv[2] ?? 10);
const r = rng(1);
const recs = Array.from({ length: N }, () => Buffer.from(JSON.stringify(realisticEvent(r))));
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});
const joiner = new RowJoiner();
const cpuUs = (f: () => Buffer): number => {
  gc();
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
};
const fresh: number[] = [];
const reused: number[] = [];
for (let i = 0; i < rounds; i++) {
  // Insert bodies are dropped after their insert: the fresh one becomes garbage, like in ingest.
  fresh.push(cpuUs(() => joinRows(recs)));
  reused.push(cpuUs(() => joiner.join(recs)));
}
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
process.stdout.write(`join ${N} rows of ~${recs[0]!.length} B · load ${loadavg()[0]!.toFixed(1)} · fresh median ${med(fresh).toFixed(2)} µs/row (${fresh.map((v) => v.toFixed(1)).join(' ')}) · reused median ${med(reused).toFixed(2)} µs/row (${reused.map((v) => v.toFixed(1)).join(' ')})\n`);

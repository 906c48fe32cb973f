// One Kafka ingest worker row of `pnpm bench --ingest`, alone in its process (no other store's
// threads in the CPU figures), with the worker's CPU per event by thread and optionally a V8 CPU
// profile of the worker's run only (not of producing the topic):
//   node test/bench/ingest-profile.ts [--target http|embedded] [--events N] [--rounds R] [--prof FILE] [--consumer '{"maxBytes":…}']
// Summarize the profile with test/bench/profile-summary.ts FILE N.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type ConsumerConfig } from 'kafkajs';
import { openStore } from '@gatelog/core';
import { killAll } from './children.ts';
import { kafkaWorker, produce, startFixtures } from './ingest.ts';

const { values: args } = parseArgs({ options: { target: { type: 'string', default: 'http' }, events: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '2' }, prof: { type: 'string' }, consumer: { type: 'string' } } });
const n = Number(args.events);
const dir = mkdtempSync(join(tmpdir(), 'gatelog-ingest-profile-'));
const { fixtures, addr } = await startFixtures();
try {
  const kafka = new Kafka({ clientId: 'gatelog-bench', brokers: [addr.kafka], logLevel: logLevel.NOTHING });
  await produce(kafka, n);
  for (let r = 0; r < Number(args.rounds); r++) {
    const database = `prof_${args.target}_${r}`;
    const store = await openStore(args.target === 'embedded' ? { clickhouse: 'embedded', database } : { clickhouse: { url: addr.clickhouse, database, username: 'default', password: '' }, database }, dir);
    const session = args.prof && r === Number(args.rounds) - 1 ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const row = await kafkaWorker(kafka, n, store, `kafka → ${args.target}${args.consumer ? ` ${args.consumer}` : ''}`, fixtures.proc.pid, args.consumer ? (JSON.parse(args.consumer) as Partial<ConsumerConfig>) : undefined);
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(args.prof!, JSON.stringify(profile));
      session.disconnect();
    }
    await store.close();
    const us = (v: number | undefined): string => (v ?? 0).toFixed(1);
    process.stdout.write(`round ${r + 1} · load ${loadavg()[0]!.toFixed(1)} · ${row.path}: ${row.events} events in ${row.totalS.toFixed(1)} s · worker ${us(row.workerCpuUs)} µs/event · main ${us(row.workerMainUs)} · ${(row.workerThreads ?? []).map(([t, v]) => `${t} ${v.toFixed(1)}`).join(', ')} · fixtures ${us(row.fixtureCpuUs)}${row.note ? ` · ${row.note}` : ''}\n`);
  }
} finally {
  await fixtures.stop('SIGTERM');
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

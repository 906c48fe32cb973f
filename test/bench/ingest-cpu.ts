// Worker CPU per event of ingest's own work, for ~2 KB events: process.cpuUsage() (all threads
// of this process) and the JS main thread's CPU (from /proc) around the ingest work only — the
// events are built before the clock starts. Paths:
//   validate   the Kafka worker's per-message step (kafka-part.ts toParts: JSON + schema check)
//   embedded   the pipeline (pipeline.ts: queue, block split check, insertIsolating) into chDB
//              in this process (rawInsert); its insert threads count as worker CPU here
//   http       the same pipeline into the ClickHouse HTTP fixture (TEST FIXTURE, a child process:
//              ClickHouse's own CPU is not counted, as a real server runs elsewhere)
// Rounds are interleaved (validate, embedded, http, …) and the 1-minute load average is printed
// with each, because this machine is shared.
//   node test/bench/ingest-cpu.ts [--events N] [--rounds R] [--batch ROWS]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EachBatchPayload } from 'kafkajs';
import { Registry } from 'prom-client';
import { createLogger, migrate, openStore, type Store } from '@gatelog/core';
import { RowJoiner, insertIsolating, joinRows } from '@gatelog/ingest/insert-batch';
import { toParts } from '@gatelog/ingest/kafka-part';
import { createIngestMetrics } from '@gatelog/ingest/metrics';
import { createPipeline, type PipelinePart } from '@gatelog/ingest/pipeline';
import { recordMeta, SCHEMA_VERSION_HEADER } from '@gatelog/proxy/publish/kafka';
import { killAll } from './children.ts';
import { startFixtures } from './ingest.ts';
import { realisticEvent, rng } from './ingest-events.ts';
import { cpuDelta, threadCpu } from './threads.ts';

const { values: args } = parseArgs({ options: { events: { type: 'string' }, rounds: { type: 'string' }, batch: { type: 'string' }, only: { type: 'string' } } });
const only = new Set((args.only ?? 'validate,embedded,http,join').split(','));
const N = Number(args.events ?? 10_000);
const ROUNDS = Number(args.rounds ?? 3);
const BATCH = Number(args.batch ?? 10_000);
const logger = createLogger('silent');

const mainCpuS = (): number => threadCpu(process.pid).get('main (JS event loop)') ?? 0;

interface Cpu {
  processUs: number;
  mainUs: number;
  wallMs: number;
  /** µs per event by thread name, largest first. */
  threads: [string, number][];
}

/** Run with --expose-gc: the garbage of building the events is collected before the clock starts. */
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});

async function measured(n: number, work: () => Promise<void> | void): Promise<Cpu> {
  gc();
  const p0 = process.cpuUsage();
  const t0s = threadCpu(process.pid);
  const m0 = mainCpuS();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const p = process.cpuUsage(p0);
  const threads = cpuDelta(t0s, threadCpu(process.pid)).map(([name, v]): [string, number] => [name, (v * 1e6) / n]);
  return { processUs: (p.user + p.system) / n, mainUs: ((mainCpuS() - m0) * 1e6) / n, wallMs, threads };
}

function events(seed: number): Buffer[] {
  const r = rng(seed);
  return Array.from({ length: N }, () => Buffer.from(JSON.stringify(realisticEvent(r))));
}

function kafkaBatch(records: Buffer[]): EachBatchPayload['batch'] {
  const messages = records.map((value, i) => {
    const m = recordMeta(value);
    return { key: m.key === undefined ? null : Buffer.from(m.key), value, headers: { [SCHEMA_VERSION_HEADER]: Buffer.from(m.version) }, offset: String(i), timestamp: '0', attributes: 0 };
  });
  return { topic: 't', partition: 0, messages, firstOffset: () => '0', lastOffset: () => String(records.length - 1) } as unknown as EachBatchPayload['batch'];
}

let round = 0;
async function pipelineInto(store: Store, records: Buffer[], settings?: Record<string, string | number>): Promise<Cpu> {
  const registry = new Registry();
  const metrics = createIngestMetrics(registry);
  const id = `${process.pid}-${round++}`;
  const queue = createPipeline<PipelinePart>({
    source: { tokenFor: (parts) => `${id}-${parts.length}-${parts[0]!.records.length}`, deadLetter: async () => {}, commit: async () => {} },
    store,
    logger,
    metrics,
    batch: { maxRows: BATCH, maxBytes: 32 << 20, lingerMs: 10 },
    ...(settings ? { insertSettings: settings } : {}),
  });
  // Parts of 500 records, as the local log reader and the Kafka fetches hand them over.
  const cpu = await measured(records.length, async () => {
    for (let i = 0; i < records.length; i += 500) {
      const recs = records.slice(i, i + 500);
      queue.add({ records: recs, rows: recs.length, bytes: recs.reduce((n, b) => n + b.length + 1, 0) });
    }
    await queue.drain();
  });
  await queue.close();
  return cpu;
}

const fmt = (c: Cpu): string => `${c.processUs.toFixed(1)} µs/event process (${c.mainUs.toFixed(1)} main thread), ${Math.round((N / c.wallMs) * 1000).toLocaleString('en-US')} events/s · by thread: ${c.threads.slice(0, 4).map(([t, v]) => `${t} ${v.toFixed(1)}`).join(', ')}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-ingest-cpu-'));
  const { fixtures, addr } = await startFixtures();
  // chDB's threads would count in every row of this process: opened only when measured.
  const wantsChdb = only.has('embedded') || only.has('join');
  const embedded = await openStore(wantsChdb ? { clickhouse: 'embedded', database: 'bench_cpu' } : { clickhouse: { url: addr.clickhouse, database: 'bench_cpu_unused', username: 'default', password: '' }, database: 'bench_cpu_unused' }, dir);
  const http = await openStore({ clickhouse: { url: addr.clickhouse, database: 'bench_cpu', username: 'default', password: '' }, database: 'bench_cpu' }, dir);
  try {
    if (wantsChdb) await migrate(embedded);
    await migrate(http);
    const bytes = events(1)[0]!.length;
    process.stdout.write(`ingest CPU per event · ${N} events of ~${bytes} B · inserts of ≤ ${BATCH} rows · node ${process.version}\n`);
    for (let r = 0; r < ROUNDS; r++) {
      const say = (what: string, c: Cpu): void => {
        process.stdout.write(`round ${r + 1} · load ${loadavg()[0]!.toFixed(1)} · ${what}: ${fmt(c)}\n`);
      };
      if (only.has('validate')) {
        const batch = kafkaBatch(events(100 + r));
        say('validate (Kafka toParts)', await measured(N, () => {
          toParts(batch, BATCH);
        }));
      }
      // BENCH_INSERT_SETTINGS='{"optimize_on_insert":0}': the same insert with extra settings too
      // (A/B, the order alternating by round: background merges of one insert land in the next).
      const extra = process.env['BENCH_INSERT_SETTINGS'];
      const plain = async (): Promise<void> => say('embedded (chDB rawInsert)', await pipelineInto(embedded, events(200 + r)));
      const withExtra = async (): Promise<void> => say(`embedded with ${extra}`, await pipelineInto(embedded, events(250 + r), JSON.parse(extra!) as Record<string, number>));
      if (only.has('embedded')) for (const step of extra ? (r % 2 ? [withExtra, plain] : [plain, withExtra]) : [plain]) await step();
      if (only.has('join')) {
        // Lever A/B: chDB inserts of the same rows, body joined fresh (joinRows) or into the reused buffer (RowJoiner).
        const joiner = new RowJoiner();
        const variants = [['fresh', joinRows], ['reused', (rs: readonly Buffer[]) => joiner.join(rs)]] as const;
        for (const [name, join] of r % 2 ? [...variants].reverse() : variants) {
          const recs = events(400 + r);
          const id = `${process.pid}-join-${round++}`;
          say(`embedded insertIsolating, body ${name}`, await measured(N, async () => {
            for (let i = 0; i < recs.length; i += BATCH) await insertIsolating(recs.slice(i, i + BATCH), (rows, range) => embedded.insertRaw('llm_calls', rows, { insert_deduplication_token: `${id}:${i + range.from}` }), () => {}, join);
          }));
        }
      }
      if (only.has('http')) say('http (ClickHouse HTTP fixture)', await pipelineInto(http, events(300 + r)));
    }
  } finally {
    await embedded.close().catch(() => {});
    await http.close().catch(() => {});
    await fixtures.stop('SIGTERM');
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    killAll();
    process.stderr.write(`ingest-cpu failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

// `pnpm bench --ingest`: events/s from the bus into ClickHouse for one ingest worker with
// realistic ~2 KB events, and end-to-end lag at a fixed calls/s. Kafka and ClickHouse server
// are the test fixtures (run in a child process); the local-log path is measured alongside.
// Bounded; kills what it starts. See ingest-report.ts for what each figure means.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs, { Kafka, logLevel, type ConsumerConfig } from 'kafkajs';
import { Registry } from 'prom-client';
import { GatelogConfig, KAFKA_CODEC_ID, LocalLogWriter, createLogger, migrate, openStore, registerKafkaCodecs, type KafkaCompression, type Store } from '@gatelog/core';
import { startLocalIngest } from '@gatelog/ingest';
import { startKafkaIngest } from '@gatelog/ingest/kafka-consumer';
import { checkEvent, validateMessage } from '@gatelog/ingest/kafka-validate';
import { recordMeta, SCHEMA_VERSION_HEADER } from '@gatelog/proxy/publish/kafka';
import { killAll, spawnChild, type Child } from './children.ts';
import { checkedEventBytes, realisticEvent, rng } from './ingest-events.ts';
import { measureLag } from './ingest-lag.ts';
import { ingestSection, ingestTable, spliceIngestSection, type IngestInfo, type ThroughputRow } from './ingest-report.ts';
import { machine } from './report.ts';
import { cpuDelta, threadCpu } from './threads.ts';
import { ROOT } from './targets.ts';

export const TOPIC = 'bench.events';
const PARTITIONS = 4;
const TARGET = 50_000;
const PHASE_TIMEOUT_MS = 45_000;
/** The proxy's default bus.compression, so the topic holds what production topics hold. */
const WIRE: KafkaCompression = 'zstd';
const logger = createLogger('silent');

export interface IngestBenchOptions {
  quick: boolean;
  events?: number;
  lagDurationS?: number;
  write: boolean;
}

const say = (msg: string): void => {
  process.stderr.write(`[bench:ingest] ${msg}\n`);
};

/** Polls `rows()` until it reaches `n`; returns the start→first-row and start→all times. */
async function timeRows(n: number, t0: number, rows: () => number): Promise<{ totalS: number; startupS: number; done: number }> {
  let first = 0;
  const deadline = t0 + PHASE_TIMEOUT_MS;
  for (;;) {
    const got = rows();
    const now = performance.now();
    if (got > 0 && first === 0) first = now;
    if (got >= n || now > deadline) return { totalS: (now - t0) / 1000, startupS: ((first || now) - t0) / 1000, done: got };
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** CPU seconds used so far by a process (all its threads), from /proc. */
function cpuS(pid: number | undefined): number {
  let total = 0;
  if (pid !== undefined) for (const s of threadCpu(pid).values()) total += s;
  return total;
}

const MAIN_THREAD = 'main (JS event loop)';

interface CpuUsed {
  workerS: number;
  /** The worker's JS main thread alone (the rest: V8 GC helpers, libuv pool, chDB's threads). */
  mainS: number;
  /** The worker process's other threads by name, CPU seconds, largest first. */
  threads: [string, number][];
  fixtureS: number;
}

/** Measures the CPU the bench process (the worker under test, per thread) and the fixtures' process spend. */
function cpuMeter(fixturePid: number | undefined): () => CpuUsed {
  const w0 = threadCpu(process.pid);
  const f0 = cpuS(fixturePid);
  return () => {
    const d = cpuDelta(w0, threadCpu(process.pid));
    const mainS = d.find(([t]) => t === MAIN_THREAD)?.[1] ?? 0;
    return { workerS: d.reduce((n, [, v]) => n + v, 0), mainS, threads: d.filter(([t]) => t !== MAIN_THREAD), fixtureS: cpuS(fixturePid) - f0 };
  };
}

function withCpu(r: ThroughputRow, cpu: CpuUsed): ThroughputRow {
  if (r.events <= 0) return r;
  const us = (s: number): number => (s * 1e6) / r.events;
  return { ...r, workerCpuUs: us(cpu.workerS), workerMainUs: us(cpu.mainS), workerThreads: cpu.threads.map(([t, v]) => [t, us(v)]), fixtureCpuUs: us(cpu.fixtureS) };
}

async function countFinal(store: Store): Promise<number> {
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.llm_calls FINAL`, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
}

function row(path: string, n: number, t: { totalS: number; startupS: number; done: number }, counted: number): ThroughputRow {
  const notes: string[] = [];
  if (t.done < n) notes.push(`timed out after ${PHASE_TIMEOUT_MS / 1000} s at ${t.done} rows`);
  if (counted !== t.done && counted !== -1) notes.push(`count() FINAL = ${counted}`);
  return { path, events: t.done, totalS: t.totalS, startupS: t.startupS, ...(notes.length ? { note: notes.join('; ') } : {}) };
}

export async function produce(kafka: Kafka, n: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
  registerKafkaCodecs(kafkajs.CompressionCodecs);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const r = rng(42);
  const t0 = performance.now();
  for (let sent = 0; sent < n; ) {
    const size = Math.min(1000, n - sent);
    const messages = Array.from({ length: size }, () => {
      const value = Buffer.from(JSON.stringify(realisticEvent(r)));
      const { key, version } = recordMeta(value);
      return { key: key ?? null, value, headers: { [SCHEMA_VERSION_HEADER]: version } };
    });
    await producer.send({ topic: TOPIC, acks: -1, compression: KAFKA_CODEC_ID[WIRE], messages });
    sent += size;
  }
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return s;
}

async function fetchOnly(kafka: Kafka, n: number, fixturePid: number | undefined): Promise<ThroughputRow> {
  const consumer = kafka.consumer({ groupId: 'bench-fetch' });
  let got = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const cpu = cpuMeter(fixturePid);
  const t0 = performance.now();
  await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => {
    got += batch.messages.length;
  } });
  const t = await timeRows(n, t0, () => got);
  const used = cpu();
  await consumer.disconnect();
  return withCpu(row('Kafka fixture fetch only (kafkajs, no insert)', n, t, -1), used);
}

/** Ceilings of the worker's two CPU-bound steps, without Kafka: validation, then insertRaw. */
async function ceilings(n: number, store: Store): Promise<ThroughputRow[]> {
  const r = rng(9);
  const m = Math.min(n, 20_000);
  const bufs = Array.from({ length: m }, () => Buffer.from(JSON.stringify(realisticEvent(r))));
  const timeCheck = (path: string, check: (b: Buffer) => boolean): ThroughputRow => {
    for (const b of bufs.slice(0, 2000)) check(b); // warm: the worker validates millions
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    let ok = 0;
    for (const b of bufs) if (check(b)) ok++;
    const cpu = process.cpuUsage(cpu0);
    // Single-threaded JS: its CPU time, not wall time, is what one core spends per event.
    return { path, events: ok, totalS: (performance.now() - t) / 1000, startupS: 0, workerCpuUs: (cpu.user + cpu.system) / Math.max(1, ok) };
  };
  const validate = timeCheck('ceiling: validate only (the worker\'s check: a byte scan, JSON.parse + zod when it is not sure)', (b) => validateMessage(b, {}).ok);
  const full = timeCheck('ceiling: JSON.parse + core zod schema on every event (the check before 2026-12-03)', (b) => checkEvent(b).ok);
  await migrate(store);
  let t0 = performance.now();
  const nl = Buffer.from('\n');
  for (let i = 0; i < m; i += 1000) await store.insertRaw('llm_calls', Buffer.concat(bufs.slice(i, i + 1000).flatMap((b) => [b, nl])), { async_insert: 0 });
  const insert: ThroughputRow = { path: 'ceiling: chDB (embedded) insertRaw only, JSONEachRow', events: m, totalS: (performance.now() - t0) / 1000, startupS: 0, batchRows: 1000 };
  t0 = performance.now();
  for (let i = 0; i < m; i += 10_000) await store.insertRaw('llm_calls', Buffer.concat(bufs.slice(i, i + 10_000).flatMap((b) => [b, nl])), { async_insert: 0, insert_deduplication_token: `ceiling-10k-${i}` });
  const insert10k: ThroughputRow = { path: 'ceiling: chDB (embedded) insertRaw only, JSONEachRow', events: m, totalS: (performance.now() - t0) / 1000, startupS: 0, batchRows: 10_000 };
  return [validate, full, insert, insert10k];
}

export async function kafkaWorker(kafka: Kafka, n: number, store: Store, path: string, fixturePid: number | undefined, consumer?: Partial<ConsumerConfig>): Promise<ThroughputRow> {
  await migrate(store);
  const cpu = cpuMeter(fixturePid);
  const t0 = performance.now();
  const worker = await startKafkaIngest({ kafka, topic: TOPIC, groupId: `bench-${store.database}`, deadLetterTopic: `${TOPIC}.dlq`, store, logger, registry: new Registry(), consumer });
  const t = await timeRows(n, t0, () => worker.stats().rows);
  const used = cpu();
  await worker.stop();
  const { inserts } = worker.stats();
  return { ...withCpu(row(path, n, t, await countFinal(store)), used), batchRows: inserts ? t.done / inserts : 0 };
}

async function localLog(n: number, store: Store, dir: string): Promise<ThroughputRow> {
  await migrate(store);
  const logDir = join(dir, 'log');
  const writer = new LocalLogWriter({ dir: logDir });
  const r = rng(42);
  for (let i = 0; i < n; i++) writer.append(Buffer.from(JSON.stringify(realisticEvent(r))));
  writer.close();
  // The embedded launcher's defaults (gatelog.yaml `ingest`).
  const t0 = performance.now();
  const defaults = GatelogConfig.parse({}).ingest;
  const ingest = startLocalIngest({ logDir, offsetPath: join(dir, 'offset'), deadLetterPath: join(dir, 'dead-letter.jsonl'), store, logger, registry: new Registry(), batchRows: defaults.batch_rows, batchMs: defaults.batch_ms });
  const t = await timeRows(n, t0, () => ingest.stats().rows);
  await ingest.stop();
  return { ...row('local log → startLocalIngest → chDB (embedded)', n, t, await countFinal(store)), batchRows: defaults.batch_rows };
}

function verdicts(info: IngestInfo): string[] {
  const out: string[] = [];
  const rate = (r: ThroughputRow | undefined): number => (r ? r.events / r.totalS : 0);
  // The fetch-only consumer gets nearly everything in its first fetch: compare after the join.
  const steady = (r: ThroughputRow): number => (r.totalS > r.startupS ? r.events / (r.totalS - r.startupS) : rate(r));
  const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
  const perCore = (us: number | undefined): number => (us && us > 0 ? 1e6 / us : 0);
  const meets = (v: number): string => `${v >= TARGET ? 'meets' : 'below'} the ${fmt(TARGET)}/s target`;
  const fetch = info.rows.find((r) => r.path.startsWith('Kafka fixture'));
  const validate = info.rows.find((r) => r.path.startsWith('ceiling: validate'));
  const inserts = info.rows.filter((r) => r.path.startsWith('ceiling: chDB'));
  const http = info.rows.find((r) => r.path.startsWith('Kafka →') && r.path.includes('HTTP'));
  for (const r of info.rows.filter((x) => x.path.startsWith('Kafka →'))) {
    const core = perCore(r.workerCpuUs);
    const what = r === http
      ? `the worker process alone (ClickHouse runs in the fixtures' process, ${fmt(r.fixtureCpuUs ?? 0)} µs/event there)`
      : 'the worker process including chDB, which inserts in-process';
    const threads = (r.workerThreads ?? []).filter(([, v]) => v >= 0.5).map(([t, v]) => `${t} ${fmt(v)}`).join(', ');
    const gcUs = r.workerThreads?.find(([t]) => t === 'V8Worker')?.[1] ?? 0;
    const jsUs = (r.workerMainUs ?? 0) + gcUs;
    const split = r === http
      ? `libuv-worker: ZSTD inflate; this row runs before chDB is loaded into the bench process`
      : `JS (main thread + V8's GC helpers, V8Worker) ${fmt(jsUs)} µs/event, the other threads ${fmt((r.workerCpuUs ?? 0) - jsUs)} µs/event: chDB's insert work, on its pools and the libuv pool (no thread keeps the name libuv-worker here: "Unknown" is most likely those, renamed by ClickHouse), plus the worker's ZSTD inflate on that pool (~3 µs/event, the HTTP row's libuv-worker)`;
    out.push(`- ${r.path}: ${fmt(rate(r))} events/s end to end on this 2-core box (${fmt(steady(r))}/s after the first insert) — ${meets(rate(r))}. CPU of ${what}: ${fmt(r.workerCpuUs ?? 0)} µs/event, i.e. ${fmt(core)} events/s per worker core — ${meets(core)}. By thread: JS main thread ${fmt(r.workerMainUs ?? 0)} µs/event${threads ? `, ${threads}` : ''} (${split}).`);
  }
  if (http?.workerCpuUs && fetch?.workerCpuUs && validate?.workerCpuUs) {
    const rest = Math.max(0, http.workerCpuUs - fetch.workerCpuUs - validate.workerCpuUs);
    out.push(`- Where the worker's CPU goes (HTTP row): kafkajs fetch + decompress + decode ${fmt(fetch.workerCpuUs)} µs/event (the fetch-only row), validation ${fmt(validate.workerCpuUs)} µs/event (the validate ceiling), the rest (the stored-row lookup, the erasure and hold reads, batching, the insert body, HTTP, commits, GC) ~${fmt(rest)} µs/event; one worker core tops out near ${fmt(perCore(http.workerCpuUs))}/s.`);
  }
  if (http?.workerCpuUs && http.fixtureCpuUs) {
    out.push(`- End to end here, the worker, the broker and ClickHouse share 2 cores: ${fmt(http.workerCpuUs + http.fixtureCpuUs)} µs of CPU per event in all caps this box at ~${fmt(2e6 / (http.workerCpuUs + http.fixtureCpuUs))} events/s, and ClickHouse's insert (the fixtures' ${fmt(http.fixtureCpuUs)} µs/event) is the largest share.`);
  }
  if (fetch) {
    const f = steady(fetch);
    out.push(`- The broker fixture + kafkajs fetch alone deliver ${fmt(f)} events/s after the group join${f < TARGET ? ' (under the target: this fixture could not show 50,000/s)' : ''}.`);
  }
  if (inserts.length > 0) {
    out.push(`- chDB insertRaw ceilings without Kafka (llm_calls with its bloom and text indexes and the rollup view): ${inserts.map((r) => `${fmt(rate(r))} rows/s in ${fmt(r.batchRows ?? 0)}-row inserts`).join(', ')}${validate ? `; validation alone ${fmt(rate(validate))}/s` : ''}.`);
  }
  if (info.lag) {
    const l = info.lag;
    out.push(`- End-to-end lag p99 at ${fmt(l.targetRate)} calls/s: ${fmt(l.p99)} ms (p50 ${fmt(l.p50)} ms). The worker writes all partitions' fetched batches as one insert (mean ~${fmt(l.batchRows)} rows, ${fmt(l.insertMs)} ms each against the one-request-at-a-time HTTP fixture) while it fetches the next ones; besides the publisher's batching (bus.batch_ms ${fmt(l.publisherBatchMs)} ms) and the worker's (ingest.batch_ms ${fmt(l.workerLingerMs)} ms or ${fmt(l.workerBatchRows)} rows, whichever first), an event waits for the insert in flight and its own.`);
  }
  return out;
}

/** The Kafka broker and ClickHouse HTTP fixtures in a child process of their own (ingest-fixtures.ts). */
export async function startFixtures(): Promise<{ fixtures: Child; addr: { kafka: string; clickhouse: string } }> {
  const fixtures = await spawnChild({
    name: 'kafka + clickhouse fixtures',
    cmd: process.execPath,
    args: ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'bench', 'ingest-fixtures.ts')],
    cpus: null,
    readyPattern: /"fixtures":(\{[^}]+\})/,
    timeoutMs: 20_000,
  });
  return { fixtures, addr: JSON.parse(fixtures.ready) as { kafka: string; clickhouse: string } };
}

export async function runIngestBench(o: IngestBenchOptions): Promise<void> {
  const n = o.events ?? (o.quick ? 20_000 : 100_000);
  const lagS = o.lagDurationS ?? (o.quick ? 3 : 10);
  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-bench-ingest-'));
  const { fixtures, addr } = await startFixtures();
  say(`fixtures: kafka ${addr.kafka}, clickhouse ${addr.clickhouse}`);
  const kafka = new Kafka({ clientId: 'gatelog-bench', brokers: [addr.kafka], logLevel: logLevel.NOTHING });
  const stores: Store[] = [];
  const open = async (database: string, url?: string): Promise<Store> => {
    const s = await openStore(url ? { clickhouse: { url, database, username: 'default', password: '' }, database } : { clickhouse: 'embedded', database }, dir);
    stores.push(s);
    return s;
  };
  try {
    const eventBytes = checkedEventBytes(rng(1)).length;
    say(`producing ${n} events (~${eventBytes} B, ${WIRE}, idempotent)`);
    const produceS = await produce(kafka, n);
    const info: IngestInfo = { date: new Date().toISOString(), machine: machine(), load: [loadAtStart, 0], eventBytes, compression: WIRE, produce: { events: n, seconds: produceS }, rows: [], lag: null };
    say('fixture fetch throughput');
    info.rows.push(await fetchOnly(kafka, n, fixtures.proc.pid));
    // Before chDB is loaded into this process: once it is, its pools' background threads (and
    // the libuv pool, which it renames) would count in this row, which has no chDB of its own.
    say('kafka → ClickHouse HTTP fixture');
    const http = await kafkaWorker(kafka, n, await open('bench_http', addr.clickhouse), 'Kafka → startKafkaIngest → ClickHouse HTTP fixture', fixtures.proc.pid);
    say('ceilings: validation, chDB insert');
    info.rows.push(...(await ceilings(n, await open('bench_ceiling'))));
    say('kafka → chDB (embedded)');
    info.rows.push(await kafkaWorker(kafka, n, await open('bench_chdb'), 'Kafka → startKafkaIngest → chDB (embedded)', fixtures.proc.pid));
    info.rows.push(http);
    say('local log → chDB (embedded)');
    info.rows.push(await localLog(n, await open('bench_local'), dir));
    say(`end-to-end lag at 1000 calls/s for ${lagS} s`);
    try {
      info.lag = await measureLag({ kafka, brokers: [addr.kafka], clickhouseUrl: addr.clickhouse, rate: 1000, durationS: lagS, dir });
    } catch (err) {
      info.lagError = err instanceof Error ? err.message : String(err);
    }
    info.load[1] = loadavg()[0] ?? 0;
    const verdict = verdicts(info);
    process.stdout.write(`\n${ingestTable(info)}\n\n${verdict.join('\n')}\n\n`);
    if (o.write && !o.quick) {
      const file = join(ROOT, 'BENCHMARKS.md');
      writeFileSync(file, spliceIngestSection(existsSync(file) ? readFileSync(file, 'utf8') : '# gatelog benchmarks\n', ingestSection(info, verdict)));
      say('wrote the Ingest section of BENCHMARKS.md');
    }
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await fixtures.stop('SIGTERM');
    killAll();
    rmSync(dir, { recursive: true, force: true });
    say(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

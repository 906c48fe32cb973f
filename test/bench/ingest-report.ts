// The "Ingest" section of BENCHMARKS.md: rendered by `pnpm bench --ingest`, spliced in place
// (other sections and the hand-written notes survive), and carried over by the main bench run.
export const INGEST_HEADING = '## Ingest: bus → ClickHouse (`pnpm bench --ingest`)';
const NOTES_HEADING = '## Notes (kept across runs)';

export interface ThroughputRow {
  path: string;
  events: number;
  /** Seconds from starting the consumer until every row was in ClickHouse. */
  totalS: number;
  /** Seconds from start to the first batch written (group join, first fetch). */
  startupS: number;
  /** Mean rows per ClickHouse insert (0 when not applicable). */
  batchRows?: number;
  /** CPU µs per event of the process running the worker (the bench process), all its threads. */
  workerCpuUs?: number;
  /** Of workerCpuUs: the JS main thread alone, and the other threads by name (chDB's own, GC, libuv). */
  workerMainUs?: number;
  workerThreads?: [string, number][];
  /** CPU µs per event of the fixtures' process (Kafka broker + ClickHouse HTTP fixture). */
  fixtureCpuUs?: number;
  note?: string;
}

export interface LagRow {
  targetRate: number;
  achievedRate: number;
  events: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Mean rows per ClickHouse insert and mean insert time during the run. */
  batchRows: number;
  insertMs: number;
  /** The defaults the row ran with: the proxy's bus.batch_ms, the worker's ingest.batch_ms / batch_rows. */
  publisherBatchMs: number;
  workerLingerMs: number;
  workerBatchRows: number;
}

export interface IngestInfo {
  date: string;
  machine: string;
  load: [number, number];
  eventBytes: number;
  /** Record batch codec of the pre-produced topic (bus.compression). */
  compression: string;
  produce: { events: number; seconds: number };
  rows: ThroughputRow[];
  lag: LagRow | null;
  lagError?: string;
}

const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const f1 = (n: number): string => n.toFixed(1);

export function ingestTable(info: IngestInfo): string {
  const lines = [
    '| path (one worker) | events | start → all rows | events/s | events/s after first batch | MB/s | rows/insert | worker CPU µs/event (JS main thread) | events/s per worker core | fixtures CPU µs/event |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const us = (v: number | undefined): string => (v === undefined ? '—' : f0(v));
  const perCore = (v: number | undefined): string => (v === undefined || v <= 0 ? '—' : f0(1e6 / v));
  for (const r of info.rows) {
    const steady = r.totalS > r.startupS ? f0(r.events / (r.totalS - r.startupS)) : '—';
    const name = r.note ? `${r.path} (${r.note})` : r.path;
    lines.push(`| ${name} | ${f0(r.events)} | ${f1(r.totalS)} s | ${f0(r.events / r.totalS)} | ${steady} | ${f1((r.events * info.eventBytes) / r.totalS / 1e6)} | ${r.batchRows ? f0(r.batchRows) : '—'} | ${us(r.workerCpuUs)}${r.workerMainUs === undefined ? '' : ` (${us(r.workerMainUs)})`} | ${perCore(r.workerCpuUs)} | ${us(r.fixtureCpuUs)} |`);
  }
  if (info.lag) {
    const l = info.lag;
    lines.push('', '| end-to-end lag (publish → visible in ClickHouse) | calls/s target | achieved | events | p50 | p95 | p99 | max | rows/insert | insert |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    lines.push(`| proxy publisher → spool → Kafka fixture → ingest worker → ClickHouse HTTP fixture | ${f0(l.targetRate)} | ${f0(l.achievedRate)} | ${f0(l.events)} | ${f0(l.p50)} ms | ${f0(l.p95)} ms | ${f0(l.p99)} ms | ${f0(l.max)} ms | ${f0(l.batchRows)} | ${f0(l.insertMs)} ms |`);
  } else if (info.lagError) lines.push('', `End-to-end lag: not measured (${info.lagError}).`);
  return lines.join('\n');
}

export function ingestSection(info: IngestInfo, verdict: string[]): string {
  return `${INGEST_HEADING}

${info.date} · ${info.machine} · load ${info.load.map((l) => l.toFixed(2)).join(' → ')} · unpinned · events ~${f0(info.eventBytes)} B of JSON each (varied text, ${info.compression.toUpperCase()} on the wire) · pre-produced with an idempotent kafkajs producer in ${f1(info.produce.seconds)} s (${f0(info.produce.events / info.produce.seconds)} events/s, generation included)

${ingestTable(info)}

${verdict.join('\n')}

How it is measured: N events are produced into the Kafka broker fixture first; then one
consumer at a time starts on the same topic (4 partitions) with its own group. "Kafka fixture
fetch only" is a kafkajs consumer that only counts messages: the ceiling the broker fixture and
kafkajs' fetch/decompress put on any worker. The ingest rows run \`startKafkaIngest\` (the
worker \`ingest/src/main.ts\` runs, default consumer and batch settings: one insert for up to
10,000 rows from any partitions, 50 ms linger, next fetch overlapping the insert, and before
each insert one lookup of the rows' request ids so that rows already stored are left out, and
over HTTP a read of the erasure requests before and after it and of the legal holds every 5 s:
none is recorded here, so no row is parsed for them) writing
through \`@clickhouse/client\` into embedded chDB or into the ClickHouse HTTP fixture (chDB
behind HTTP, one request at a time), and stop the clock when the worker has inserted every row
(async_insert=0, so an acknowledged insert is visible); the count is then checked with
\`SELECT count() … FINAL\`. The fixtures run in a child process of their own; the worker, and
for the lag row the publisher, run in the bench process. CPU columns: CPU time (all threads,
from /proc) of the bench process (the worker under test) and of the fixtures' process during
the row, divided by its events, with the worker's JS main thread alone in parentheses (per-thread
CPU from /proc/<pid>/task/*/stat; the other threads by name are listed below the table); "events/s per worker core" is 10⁶ / the worker's µs/event, what
one worker would do on a core of its own with Kafka and ClickHouse elsewhere (for the chDB row
it includes chDB's insert work, which runs in the worker's process). Lag: the proxy's Kafka
publisher (spool on disk) and one worker, both with a deployment's default settings, carry
events published at a fixed rate for the duration; each
event's lag is from its \`publish()\` call to the moment the worker's insert containing it was
acknowledged by ClickHouse (same process, same monotonic clock), so it includes spooling, Kafka
produce, the consumer's fetch wait, validation and the insert; all events are then checked to
be in the table.
`;
}

/** Replace the Ingest section of BENCHMARKS.md, or add it before the notes (or at the end). */
export function spliceIngestSection(old: string, section: string): string {
  const at = old.indexOf(INGEST_HEADING);
  if (at !== -1) {
    const next = old.indexOf('\n## ', at + INGEST_HEADING.length);
    return `${old.slice(0, at)}${section}${next === -1 ? '' : old.slice(next)}`;
  }
  const notes = old.indexOf(NOTES_HEADING);
  if (notes !== -1) return `${old.slice(0, notes)}${section}\n${old.slice(notes)}`;
  return `${old.trimEnd()}\n\n${section}`;
}

/** The Ingest section of an existing BENCHMARKS.md (for the main run to carry over), or ''. */
export function currentIngestSection(old: string): string {
  const at = old.indexOf(INGEST_HEADING);
  if (at === -1) return '';
  const next = old.indexOf('\n## ', at + INGEST_HEADING.length);
  return `${old.slice(at, next === -1 ? undefined : next + 1).trimEnd()}\n`;
}

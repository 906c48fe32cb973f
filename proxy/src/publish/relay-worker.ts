// The spool relay, on a thread of its own: it reads what the event loop appended to the spool
// (from the file: the page cache holds it), sends it to Kafka in order one batch at a time, and
// commits the spool offset only once Kafka acknowledged the batch. Building the record batch,
// compressing it and handling the produce response — 10–20% of the CPU per call when it ran on
// the event loop, and nearly all of its major GCs — no longer delays a call in flight; the
// thread runs a few nice levels below the event loop, so on a busy core a call's wake-up comes
// first. The event loop keeps the durable part: an event is in the spool file before its
// response ends.
import { getPriority, setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalLogReader } from '@gatelog/core/bus/local-log-reader';
import { OffsetFile } from '@gatelog/core/bus/offset-file';
import { createEventProducer, errorCode, isTooLarge, type EventProducer } from './producer.ts';
import { recordMeta } from './record-meta.ts';
import { stripRecord } from './strip-bodies.ts';
import { APPENDED, reached, relayOffsetPath, spoolLogDir, STOPPING, WAITING, WAKE_AT, type RelayMessage, type RelayWorkerData } from './relay-shared.ts';

const IDLE_MS = 1000;
const data = workerData as RelayWorkerData;
const port = parentPort!;
const slots = new Int32Array(data.shared);
const post = (m: RelayMessage): void => port.postMessage(m);
const log = (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void => post({ t: 'log', level, fields, msg });

if (data.nice > 0) {
  try {
    // On Linux a thread's niceness is its own: pid 0 is this thread, not the process.
    setPriority(0, Math.min(19, getPriority(0) + data.nice));
  } catch {
    // not permitted here: the relay still runs, at the event loop's priority
  }
}

const reader = new LocalLogReader(spoolLogDir(data.spoolDir));
const offsets = new OffsetFile(relayOffsetPath(data.spoolDir));
let committed = offsets.load();
let producer: EventProducer | undefined;
let failures = 0;
let pendingSince = 0;
/**
 * Bytes per batch: bus.batch_bytes, halved while the broker refuses batches as too large, and
 * doubled back after GROW_AFTER good sends.
 */
let batchBytes = data.batchBytes;
let sentSinceShrink = 0;
const GROW_AFTER = 100;
let halted = false;
const halt = new AbortController();
let wakeUp: (() => void) | undefined;

port.on('message', (m: { t: 'stop' } | { t: 'wake' }) => {
  if (m.t === 'stop') {
    halted = true;
    halt.abort();
  }
  wakeUp?.();
});

/**
 * Sleep until `count` records have been appended in all (the event loop notifies), a message
 * arrives, or `ms` pass.
 */
async function waitFor(count: number, ms: number): Promise<void> {
  Atomics.store(slots, WAKE_AT, count);
  Atomics.store(slots, WAITING, 1);
  const seen = Atomics.load(slots, APPENDED);
  if (reached(seen, count) || halted) {
    Atomics.store(slots, WAITING, 0);
    return;
  }
  const waited = Atomics.waitAsync(slots, APPENDED, seen, ms);
  if (waited.async) {
    await Promise.race([waited.value, new Promise<void>((resolve) => (wakeUp = resolve))]);
    wakeUp = undefined;
  }
  Atomics.store(slots, WAITING, 0);
}

function dropProducer(): void {
  const p = producer;
  producer = undefined;
  // A producer that failed may be mid-retry: let it go in the background.
  p?.close().catch(() => {});
}

async function send(records: Buffer[]): Promise<void> {
  producer ??= createEventProducer({
    brokers: data.brokers,
    clientId: data.clientId,
    topic: data.topic,
    compression: data.compression,
    requestTimeoutMs: data.requestTimeoutMs,
    retries: data.producerRetry.retries,
    retryDelayMs: data.producerRetry.delayMs,
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`Kafka did not acknowledge within ${data.sendTimeoutMs} ms`), { code: 'GATELOG_ERR_KAFKA_TIMEOUT' })), data.sendTimeoutMs);
  });
  try {
    await Promise.race([producer.send(records), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The offset file and the pruning run as blocking calls: this thread has nothing else to do
 * meanwhile, and each of the async versions' steps would wake a pool thread and this one on the
 * proxy's core (a commit took 3.8–5.3 ms that way against 2.3–3.2, BENCHMARKS.md "Twenty-ninth
 * round").
 */
function commit(offset: number): void {
  offsets.storeSync(offset);
  committed = offset;
  try {
    reader.pruneSync(offset);
  } catch (err) {
    log('warn', { error: String((err as Error).message) }, 'spool: could not remove relayed segments');
  }
}

/** One step: send a batch, or wait for one (lingering on a partial batch up to batchMs). */
async function step(): Promise<void> {
  const stopping = Atomics.load(slots, STOPPING) === 1 || halted;
  // Loaded before the read: every record counted here is in the file the read sees.
  const appended = Atomics.load(slots, APPENDED);
  const from = committed;
  const r = reader.read(from, data.batchRecords, batchBytes);
  if (r.skippedBytes > 0) log('error', { bytes: r.skippedBytes, offset: from }, 'spool: skipped bytes that failed their checksum');
  if (r.records.length === 0) {
    if (r.next !== from) commit(r.next);
    pendingSince = 0;
    if (!halted) await waitFor((appended + 1) | 0, IDLE_MS);
    return;
  }
  const now = Date.now();
  if (pendingSince === 0) pendingSince = now;
  // Our own linger: a partial batch waits up to batchMs for company.
  if (!r.full && now - pendingSince < data.batchMs && !stopping) {
    await waitFor((appended + data.batchRecords - r.records.length) | 0, data.batchMs - (now - pendingSince));
    return;
  }
  try {
    await send(r.records);
  } catch (err) {
    if (isTooLarge(err)) await tooLarge(err, r.records, r.next);
    else await failed(err);
    return;
  }
  acknowledged(r.next, r.records.length);
}

/** Tell the event loop a send failed, and leave the producer behind (its state may be mid-retry). */
function sendFailed(err: unknown): void {
  post({ t: 'failed', code: errorCode(err), message: String((err as Error).message) });
  dropProducer();
}

/** A send failed: the batch stays in the spool and is sent again, by a new producer, after a backoff. */
async function failed(err: unknown): Promise<void> {
  sendFailed(err);
  const delay = Math.min(data.backoff.maxMs, data.backoff.baseMs * 2 ** Math.min(failures++, 20));
  await sleep(delay, undefined, { signal: halt.signal }).catch(() => {});
}

/** Kafka acknowledged everything up to `next`: commit it, and let the byte budget grow back. */
function acknowledged(next: number, records: number): void {
  commit(next);
  post({ t: 'committed', offset: next, records });
  failures = 0;
  pendingSince = 0;
  if (batchBytes < data.batchBytes && ++sentSinceShrink >= GROW_AFTER) {
    batchBytes = Math.min(data.batchBytes, batchBytes * 2);
    sentSinceShrink = 0;
  }
}

/**
 * Kafka refused the batch as too large (over the topic's max.message.bytes). Several records:
 * send smaller batches from now on (the next read takes half as many bytes). One record: it
 * can never be sent as it is, and waiting for it would hold up every call after it, so it goes
 * without its bodies, or not at all if even that is refused; the event loop logs and counts it.
 */
async function tooLarge(err: unknown, records: Buffer[], next: number): Promise<void> {
  sendFailed(err);
  let bytes = 0;
  for (const r of records) bytes += r.length;
  if (records.length > 1) {
    batchBytes = Math.max(1, Math.floor(bytes / 2));
    sentSinceShrink = 0;
    log('warn', { records: records.length, bytes, batch_bytes: batchBytes }, "kafka: a batch was refused as too large for the topic's max.message.bytes; sending smaller batches (raise the broker's limit or lower bus.batch_bytes)");
    return;
  }
  const record = records[0]!;
  const requestId = recordMeta(record).key?.toString('latin1') ?? '';
  let outcome: 'stripped' | 'dropped' = 'dropped';
  let slim: Buffer | undefined;
  try {
    slim = stripRecord(record);
  } catch {
    // not an event this proxy wrote: nothing of it can be kept
  }
  try {
    if (slim) {
      await send([slim]);
      outcome = 'stripped';
    }
  } catch (again) {
    if (!isTooLarge(again)) {
      // An ordinary failure (Kafka went away…): the record stays and is sent again as usual.
      await failed(again);
      return;
    }
    dropProducer();
  }
  post({ t: 'oversized', requestId, bytes: record.length, outcome });
  // The halving chased this record; the batches after it may be as large as configured again.
  batchBytes = data.batchBytes;
  acknowledged(next, 1);
}

while (!halted) {
  try {
    await step();
  } catch (err) {
    log('error', { error: String((err as Error).message) }, 'kafka relay: spool read or commit failed; retrying');
    await sleep(100, undefined, { signal: halt.signal }).catch(() => {});
  }
}
const last = producer;
producer = undefined;
await last?.close().catch(() => {});
// Ends this thread only (a pending wait's timer would otherwise hold it up to IDLE_MS).
process.exit(0);

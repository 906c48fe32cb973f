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
import { LocalLogReader } from '@gatelog/core/bus/local-log';
import { OffsetFile } from '@gatelog/core/bus/offset-file';
import { createEventProducer, errorCode, type EventProducer } from './producer.ts';
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

async function commit(offset: number): Promise<void> {
  await offsets.store(offset);
  committed = offset;
  try {
    await reader.prune(offset);
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
  const r = reader.read(from, data.batchRecords);
  if (r.skippedBytes > 0) log('error', { bytes: r.skippedBytes, offset: from }, 'spool: skipped bytes that failed their checksum');
  if (r.records.length === 0) {
    if (r.next !== from) await commit(r.next);
    pendingSince = 0;
    if (!halted) await waitFor((appended + 1) | 0, IDLE_MS);
    return;
  }
  const now = Date.now();
  if (pendingSince === 0) pendingSince = now;
  // Our own linger: a partial batch waits up to batchMs for company.
  if (r.records.length < data.batchRecords && now - pendingSince < data.batchMs && !stopping) {
    await waitFor((appended + data.batchRecords - r.records.length) | 0, data.batchMs - (now - pendingSince));
    return;
  }
  try {
    await send(r.records);
  } catch (err) {
    const code = errorCode(err);
    post({ t: 'failed', code, message: String((err as Error).message) });
    dropProducer();
    const delay = Math.min(data.backoff.maxMs, data.backoff.baseMs * 2 ** Math.min(failures++, 20));
    await sleep(delay, undefined, { signal: halt.signal }).catch(() => {});
    return;
  }
  await commit(r.next);
  post({ t: 'committed', offset: r.next, records: r.records.length });
  failures = 0;
  pendingSince = 0;
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

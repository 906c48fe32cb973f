// What the proxy's event loop and its spool relay thread (relay-worker.ts) share: a few Int32
// slots in a SharedArrayBuffer, so an append costs the event loop two atomic operations (and a
// futex wake only when the relay sleeps and asked for it), and the messages the relay sends back.
import type { KafkaCompression } from '@gatelog/core';

/** The spool's layout under its directory (named in core, where erasure scrubs it too). */
export { relayOffsetPath, spoolLogDir } from '@gatelog/core/bus/spool-layout';

/** Records appended to the spool by this process so far (wraps at 2^32). Written by the event loop. */
export const APPENDED = 0;
/** The APPENDED count at which the sleeping relay wants a wake-up. Written by the relay. */
export const WAKE_AT = 1;
/** 1 while the relay sleeps waiting for records. */
export const WAITING = 2;
/** 1 once the publisher is closing: the relay sends partial batches without lingering. */
export const STOPPING = 3;
export const SLOTS = 4;

/** `a` has reached `b` on a counter that wraps. */
export const reached = (a: number, b: number): boolean => ((a - b) | 0) >= 0;

export interface RelayWorkerData {
  spoolDir: string;
  brokers: readonly string[];
  clientId: string;
  topic: string;
  compression: KafkaCompression;
  requestTimeoutMs: number;
  sendTimeoutMs: number;
  batchMs: number;
  batchRecords: number;
  batchBytes: number;
  backoff: { baseMs: number; maxMs: number };
  producerRetry: { retries: number; delayMs: number };
  /** Added to the event loop's niceness for the relay thread (0: none). */
  nice: number;
  shared: SharedArrayBuffer;
}

/** Relay → event loop. */
export type RelayMessage =
  | { t: 'committed'; offset: number; records: number }
  | { t: 'failed'; code: string; message: string }
  /** Kafka refused one event as too large on its own: sent without its bodies, or dropped when even that was refused. */
  | { t: 'oversized'; requestId: string; bytes: number; outcome: 'stripped' | 'dropped' }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; msg: string };

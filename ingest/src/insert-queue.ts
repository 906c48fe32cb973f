// The Kafka worker's write pipeline: batches handed over by the consumer (one per partition per
// fetch) queue here and leave as one ClickHouse insert for many partitions, while the consumer
// already fetches the next ones. One write is in flight at a time, so the offsets a write
// commits only ever grow per partition, and a write's offsets are committed by the write
// itself, after its insert: nothing is committed past an unwritten row.
//
// A write starts when the queue holds `maxRows` rows or `maxBytes` bytes, or when its oldest
// part has waited `lingerMs` (bounded latency at low rates). A failed write is retried as a
// whole with capped exponential backoff; while it retries the queue fills up and `waitForRoom`
// holds the consumer back (the partitions are effectively paused). After `abandon()` a failing
// write is given up uncommitted, and so is everything queued behind it (a later write must not
// commit offsets past it): the next owner of those partitions fetches them again. `discard()`
// does the same once, before a consumer rejoins its group: the queued parts are dropped and a
// failing write in flight is given up (a write that succeeds still commits), and the queue then
// goes on with what is added later.
import { setTimeout as sleep } from 'node:timers/promises';

export interface QueuedPart {
  rows: number;
  bytes: number;
}

export interface InsertQueueOptions<P extends QueuedPart> {
  /** Insert, dead-letter and commit one group of parts; throws on a transient failure. */
  write(parts: P[], attempt: number): Promise<void>;
  onRetry?(err: unknown, info: { attempt: number; delayMs: number; rows: number }): void;
  /** A group given up after abandon(): left uncommitted. */
  onAbandon?(err: unknown, info: { rows: number }): void;
  /**
   * Called right before a write takes its parts, so a source that reads lazily (the local
   * event log) can add what arrived since its last read and the write leaves full.
   */
  refill?(): void;
  maxRows: number;
  maxBytes: number;
  lingerMs: number;
  retry: { baseMs: number; maxMs: number };
}

export interface InsertQueue<P extends QueuedPart> {
  add(part: P): void;
  /** True while the queue accepts more without growing past about two writes' worth. */
  hasRoom(): boolean;
  /** Resolves when there is room again, or after `timeoutMs` (so the caller can heartbeat). */
  waitForRoom(timeoutMs: number): Promise<void>;
  /** Write everything queued now (no linger) and resolve when the queue is empty and idle. */
  drain(): Promise<void>;
  /** From now on a failing write is given up instead of retried; wakes a write in backoff. */
  abandon(): void;
  /**
   * Drop every queued part and give up the write in flight if it fails (now or in its next
   * attempt; one that succeeds stays written); resolves once no write is in flight, with the
   * parts left unwritten, in queue order. Later parts are written as usual.
   */
  discard(): Promise<P[]>;
  /** Stop the loop once drained; later adds are ignored (never written, never committed). */
  close(): Promise<void>;
  pending(): { rows: number; bytes: number; parts: number; writing: boolean };
}

/** A write given up by discard(): not an error of the loop. */
const DROPPED = new Error('write dropped before a rejoin');

export function createInsertQueue<P extends QueuedPart>(o: InsertQueueOptions<P>): InsertQueue<P> {
  const queue: { part: P; at: number }[] = [];
  let rows = 0;
  let bytes = 0;
  let writing = false;
  let flushNow = false;
  let giveUp = false;
  let gaveUp = false;
  let closed = false;
  /** Wakes the write in flight from its backoff (abandon, discard). */
  let backoff = new AbortController();
  let wake: (() => void) | undefined;
  const roomWaiters = new Set<() => void>();
  const idleWaiters = new Set<() => void>();

  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const hasRoom = (): boolean => rows < 2 * o.maxRows && bytes < 2 * o.maxBytes;
  const notifyRoom = (): void => {
    if (!hasRoom()) return;
    for (const r of roomWaiters) r();
    roomWaiters.clear();
  };
  const notifyIdle = (): void => {
    if (queue.length > 0 || writing) return;
    flushNow = false;
    for (const r of idleWaiters) r();
    idleWaiters.clear();
  };

  /** Take up to maxRows/maxBytes of the oldest parts (at least one). */
  const take = (): P[] => {
    const parts: P[] = [];
    let r = 0;
    let b = 0;
    while (queue.length > 0) {
      const next = queue[0]!.part;
      if (parts.length > 0 && (r + next.rows > o.maxRows || b + next.bytes > o.maxBytes)) break;
      queue.shift();
      parts.push(next);
      r += next.rows;
      b += next.bytes;
    }
    rows -= r;
    bytes -= b;
    return parts;
  };

  /** The write in flight, while there is one. */
  let inFlight: { parts: P[]; dropped: boolean; done: Promise<void> } | undefined;

  const writeWithRetry = async (parts: P[], self: { dropped: boolean }): Promise<void> => {
    const total = parts.reduce((n, p) => n + p.rows, 0);
    for (let attempt = 0; ; attempt++) {
      try {
        await o.write(parts, attempt);
        return;
      } catch (err) {
        if (giveUp || self.dropped) {
          if (giveUp) gaveUp = true;
          o.onAbandon?.(err, { rows: total });
          if (!giveUp) throw DROPPED;
          return;
        }
        const delayMs = Math.min(o.retry.maxMs, o.retry.baseMs * 2 ** Math.min(attempt, 20));
        o.onRetry?.(err, { attempt: attempt + 1, delayMs, rows: total });
        await sleep(delayMs, undefined, { ref: false, signal: backoff.signal }).catch(() => {});
        if (self.dropped) {
          o.onAbandon?.(err, { rows: total });
          throw DROPPED;
        }
      }
    }
  };

  const loop = async (): Promise<void> => {
    for (;;) {
      if (queue.length === 0) {
        notifyIdle();
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const due = queue[0]!.at + o.lingerMs - Date.now();
      if (!flushNow && !closed && rows < o.maxRows && bytes < o.maxBytes && due > 0) {
        const timer = setTimeout(signal, due);
        await new Promise<void>((r) => (wake = r));
        clearTimeout(timer);
        continue;
      }
      o.refill?.();
      writing = true;
      const parts = take();
      notifyRoom();
      const self = { parts, dropped: false, done: Promise.resolve() };
      try {
        if (gaveUp) o.onAbandon?.(new Error('an earlier write was given up'), { rows: parts.reduce((n, p) => n + p.rows, 0) });
        else {
          self.done = writeWithRetry(parts, self);
          inFlight = self;
          await self.done.catch((err: unknown) => {
            if (err !== DROPPED) throw err;
          });
        }
      } finally {
        inFlight = undefined;
        writing = false;
      }
    }
  };
  const done = loop();

  return {
    add(part) {
      if (closed) return;
      queue.push({ part, at: Date.now() });
      rows += part.rows;
      bytes += part.bytes;
      if (rows >= o.maxRows || bytes >= o.maxBytes || queue.length === 1) signal();
    },
    hasRoom,
    waitForRoom(timeoutMs) {
      if (hasRoom()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          roomWaiters.delete(done);
          resolve();
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        roomWaiters.add(done);
      });
    },
    drain() {
      flushNow = true;
      signal();
      if (queue.length === 0 && !writing) return Promise.resolve();
      return new Promise<void>((r) => idleWaiters.add(r));
    },
    abandon() {
      giveUp = true;
      backoff.abort();
    },
    async discard() {
      const queued = queue.splice(0).map((q) => q.part);
      rows = 0;
      bytes = 0;
      notifyRoom();
      const w = inFlight;
      if (!w) return queued;
      w.dropped = true;
      backoff.abort();
      backoff = new AbortController();
      const written = await w.done.then(
        () => true,
        () => false,
      );
      return written ? queued : [...w.parts, ...queued];
    },
    async close() {
      closed = true;
      signal();
      await done;
      // Whatever waits for room must not wait for a loop that has ended.
      for (const r of roomWaiters) r();
      roomWaiters.clear();
    },
    pending: () => ({ rows, bytes, parts: queue.length, writing }),
  };
}

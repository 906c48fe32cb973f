// Embedded-mode ingest: tails the durable local event log and inserts batches into ClickHouse.
//
// Contract: the committed offset (OffsetFile) only moves past a batch once every record of it
// is either in ClickHouse or in the dead-letter file. A crash between insert and commit
// replays the batch; llm_calls is a ReplacingMergeTree read with FINAL, so replays are
// invisible to readers. Events stay bytes end to end: a log record is a JSONEachRow row.
import { LocalLogReader, OffsetFile, RECORD_HEADER_BYTES, createWaker, type Logger, type Store } from '@gatelog/core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { writeDeadLetters } from './dead-letter.ts';
import { insertIsolating, type InsertErrorInfo } from './insert-batch.ts';
import { createIngestMetrics } from './metrics.ts';

export interface LocalIngestDeps {
  logDir: string;
  offsetPath: string;
  deadLetterPath: string;
  store: Store;
  logger: Logger;
  registry: Registry;
  batchRows: number;
  batchMs: number;
  /** writer.onAppend, to wake up instead of polling. */
  notify?: (listener: () => void) => () => void;
  /** Insert retry backoff (capped exponential); defaults 200 ms doubling to 10 s. */
  retry?: { baseMs?: number; maxMs?: number };
  /** How long stop() keeps trying to drain the log when the store fails; default 10 s. */
  stopTimeoutMs?: number;
}

export interface LocalIngest {
  /** Drain what is in the log (bounded by stopTimeoutMs), commit, and stop. */
  stop(): Promise<void>;
  /** Resolves once everything appended to the log before the call is in ClickHouse. */
  flush(): Promise<void>;
  stats(): { offset: number; rows: number };
}

const POLL_MS = 100;
/** With notify, polling only guards against a writer in another process. */
const NOTIFY_FALLBACK_MS = 1000;
/** Records per read: small enough that a chunk of large bodies cannot blow far past MAX_BATCH_BYTES. */
const READ_CHUNK = 64;
/** Bounds memory when bodies are large: a batch closes at this many bytes whatever its rows. */
const MAX_BATCH_BYTES = 16 << 20;

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

function ingestError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function startLocalIngest(deps: LocalIngestDeps): LocalIngest {
  const { logger, store } = deps;
  const batchRows = Math.max(1, deps.batchRows);
  const baseMs = deps.retry?.baseMs ?? 200;
  const maxMs = deps.retry?.maxMs ?? 10_000;
  const reader = new LocalLogReader(deps.logDir);
  const offsets = new OffsetFile(deps.offsetPath);

  const state = offsets.loadState();
  let committed = state.offset;
  /** A batch that was in flight at the last stop or crash: re-formed exactly, then deduplicated by token. */
  let replayEnd = state.pending?.end;
  const logEnd = reader.endOffset();
  if (committed > logEnd) {
    // The log was deleted or replaced under a kept offset file: reading from there would wait
    // forever for bytes that will never come. Start over; duplicates are removed by request id.
    logger.warn({ committed, log_end: logEnd }, 'ingest offset is past the end of the event log; re-reading the log from its start');
    committed = 0;
    replayEnd = undefined;
  }
  let pos = committed;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let batchStartedAt = 0;
  let rows = 0;
  let stopping = false;
  let appendedSinceRead = 0;
  const waker = createWaker();
  let flushSeq = 0;
  const waiters: FlushWaiter[] = [];
  /** Aborted when stop() gives up on draining: ends a backoff at once. */
  const halt = new AbortController();

  const metrics = createIngestMetrics(deps.registry, () => reader.endOffset() - committed);

  const wakeUp = (): void => waker.wake();
  const wait = (ms: number): Promise<void> => waker.wait(ms);

  const unsubscribe = deps.notify?.(() => {
    appendedSinceRead++;
    // Wake for the first record of a batch or a full batch; otherwise the batch timer decides.
    if (batch.length === 0 || batch.length + appendedSinceRead >= batchRows) wakeUp();
  });

  /** Read into the batch; true when the reader has caught up with the log. */
  const fill = (): boolean => {
    if (replayEnd !== undefined) return fillReplay(replayEnd);
    while (batch.length < batchRows && batchBytes < MAX_BATCH_BYTES) {
      const want = Math.min(READ_CHUNK, batchRows - batch.length);
      appendedSinceRead = 0;
      const r = reader.read(pos, want);
      if (r.skippedBytes > 0) {
        metrics.corruptBytes.inc(r.skippedBytes);
        logger.error({ bytes: r.skippedBytes, offset: pos }, 'event log: skipped bytes that failed their checksum');
      }
      if (r.records.length > 0 && batch.length === 0) batchStartedAt = Date.now();
      for (const rec of r.records) {
        batch.push(rec);
        batchBytes += rec.length + 1;
      }
      pos = r.next;
      if (r.records.length < want) return true;
    }
    return false;
  };

  /** Re-read exactly the records of the interrupted batch [pos, end). */
  const fillReplay = (end: number): boolean => {
    while (pos < end) {
      const r = reader.read(pos, READ_CHUNK);
      if (r.records.length === 0 || r.skippedBytes > 0) break; // the log no longer holds the range intact
      if (batch.length === 0) batchStartedAt = Date.now();
      for (const rec of r.records) {
        if (pos >= end) break;
        batch.push(rec);
        batchBytes += rec.length + 1;
        pos += RECORD_HEADER_BYTES + rec.length;
      }
    }
    if (pos !== end) {
      logger.warn({ expected_end: end, reached: pos }, 'ingest: the interrupted batch could not be re-formed exactly; relying on FINAL for duplicates');
    }
    replayEnd = undefined;
    return false; // insert this batch now, on its own
  };

  /** Token for records [from, to) of the batch starting at log offset `start`: same batch, same token. */
  const dedupToken = (start: number, end: number, range: { from: number; to: number }): string =>
    `gatelog-local:${offsets.id}:${start}-${end}:${range.from}-${range.to}`;

  const timedInsert = async (bytes: Buffer, token: string): Promise<void> => {
    const end = metrics.insertSeconds.startTimer();
    try {
      await store.insertRaw('llm_calls', bytes, { insert_deduplication_token: token });
    } finally {
      end();
    }
  };
  const onInsertError = (info: InsertErrorInfo): void => {
    metrics.insertErrors.inc({ kind: info.data ? 'data' : 'transient' });
  };

  // The offset file's fsyncs run on libuv's pool: in the embedded mode this loop shares its
  // thread with the requests, which must not wait for the disk.
  const commitOffset = async (next: number): Promise<void> => {
    await offsets.store(next);
    committed = next;
    try {
      reader.prune(committed);
    } catch (err) {
      logger.warn({ err }, 'event log: could not remove consumed segments');
    }
  };

  /** Insert the batch in hand and commit; retries until it succeeds or stop() gives up. */
  const commitBatch = async (): Promise<boolean> => {
    const records = batch;
    const start = committed;
    const next = pos;
    for (let attempt = 0; ; attempt++) {
      try {
        // Record the batch's range before inserting it: a replay after a crash re-forms it exactly.
        if (attempt === 0) await offsets.store(start, { start, end: next });
        const res = await insertIsolating(records, (bytes, range) => timedInsert(bytes, dedupToken(start, next, range)), onInsertError);
        writeDeadLetters(deps.deadLetterPath, res.dead);
        await commitOffset(next);
        rows += res.inserted;
        metrics.rows.inc(res.inserted);
        metrics.batches.inc();
        metrics.batchRows.observe(records.length);
        if (res.dead.length > 0) {
          metrics.deadLetters.inc(res.dead.length);
          // Codes only: the message quotes the rejected data, which stays in the dead-letter file.
          logger.error({ count: res.dead.length, codes: [...new Set(res.dead.map((d) => d.reason.type || d.reason.code))], file: deps.deadLetterPath }, 'ingest: records rejected by ClickHouse were written to the dead-letter file');
        }
        batch = [];
        batchBytes = 0;
        return true;
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
        logger.warn({ code: e.code, error: String(e.message), attempt: attempt + 1, rows: records.length, retry_in_ms: delay }, 'ingest: insert failed; keeping the batch and retrying');
        // Not `wait`: new appends must not cut a backoff short; only stop() does.
        await sleep(delay, undefined, { signal: halt.signal, ref: false }).catch(() => {});
        if (halt.signal.aborted) return false;
      }
    }
  };

  const settleFlushes = (upTo: number): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.seq <= upTo) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      const seq = flushSeq;
      waker.clear();
      let caughtUp: boolean;
      try {
        caughtUp = fill();
      } catch (err) {
        logger.error({ err }, 'event log: read failed; retrying');
        await wait(NOTIFY_FALLBACK_MS);
        continue;
      }
      const flushing = waiters.some((w) => w.seq <= seq);
      const due = batch.length > 0 && (!caughtUp || batch.length >= batchRows || Date.now() - batchStartedAt >= deps.batchMs || flushing);
      if (due) {
        if (!(await commitBatch())) break;
        if (!caughtUp) continue;
      } else if (batch.length === 0 && pos !== committed) {
        try {
          await commitOffset(pos); // only skipped corrupt bytes were read
        } catch (err) {
          logger.warn({ err }, 'ingest: could not store the offset; retrying with the next batch');
        }
      }
      if (caughtUp && batch.length === 0) settleFlushes(seq);
      if (stopping) break;
      const idle = deps.notify ? NOTIFY_FALLBACK_MS : POLL_MS;
      const ms = batch.length === 0 ? idle : Math.min(idle, Math.max(0, batchStartedAt + deps.batchMs - Date.now()));
      await wait(ms);
    }
  };

  const running = loop().catch((err: unknown) => {
    logger.fatal({ err }, 'ingest loop crashed');
  });

  const flush = (): Promise<void> => {
    if (stopping) return Promise.reject(ingestError('GATELOG_INGEST_STOPPED', 'ingest is stopped'));
    return new Promise<void>((resolve, reject) => {
      waiters.push({ seq: ++flushSeq, resolve, reject });
      wakeUp();
    });
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const timeoutMs = deps.stopTimeoutMs ?? 10_000;
      const drained = flush();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([drained.catch(() => {}), timedOut]);
      clearTimeout(timer);
      stopping = true;
      halt.abort();
      unsubscribe?.();
      wakeUp();
      await running;
      if (batch.length > 0) logger.warn({ rows: batch.length, committed }, 'ingest stopped with an uncommitted batch; it is replayed from the event log on the next start');
      for (const w of waiters.splice(0)) w.reject(ingestError('GATELOG_INGEST_STOPPED', 'ingest stopped before the flush completed'));
    })();
    return stopped;
  };

  return { stop, flush, stats: () => ({ offset: committed, rows }) };
}

// Embedded-mode ingest: the local event log as a source of the one ingest pipeline
// (pipeline.ts): it reads records into parts, the pipeline's insert queue batches, inserts,
// retries with backoff, and commits through this source.
//
// Contract: the committed offset (OffsetFile) only moves past a batch once every record of it
// is either in ClickHouse or in the dead-letter file. A batch's range is written to the offset
// file before its insert, so a crash between insert and commit re-forms exactly that batch on
// the next start, under the same dedup token, and looks its rows up first: those ClickHouse
// holds are left out, so the rollup views do not count them again (a deduplicated insert still
// feeds them). Events stay bytes end to end: a log record is a JSONEachRow row.
import { existsSync } from 'node:fs';
import { LocalLogReader, OffsetFile, RECORD_HEADER_BYTES, createWaker, type LogTail, type Logger, type Store } from '@gatelog/core';
import type { Registry } from 'prom-client';
import { writeDeadLetters } from './dead-letter.ts';
import { createIngestMetrics } from './metrics.ts';
import { MAX_INSERT_BYTES, createPipeline, type PipelinePart, type PipelineSource, type RetrySettings } from './pipeline.ts';
import type { BlockWriter } from './body-blocks.ts';

export interface LocalIngestDeps {
  logDir: string;
  offsetPath: string;
  deadLetterPath: string;
  store: Store;
  logger: Logger;
  registry: Registry;
  /** ingest.batch_rows / ingest.batch_ms. */
  batchRows: number;
  batchMs: number;
  /** writer.onAppend, to wake up instead of polling. */
  notify?: ((listener: () => void) => () => void) | undefined;
  /** The writer's in-memory tail (same process): records read from memory instead of the file. */
  tail?: LogTail | null | undefined;
  /** Insert retry backoff (capped exponential); defaults 200 ms doubling to 10 s. */
  retry?: Partial<RetrySettings> | undefined;
  /** How long stop() keeps trying to drain the log when the store fails; default 10 s. */
  stopTimeoutMs?: number | undefined;
  /** Splits large bodies into blocks (body-blocks.ts; the retention's whole-body teams). */
  blocks?: BlockWriter | undefined;
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
/** Records per read: small enough that a chunk of large bodies cannot blow far past the byte cap. */
const READ_CHUNK = 64;

/** Log records [start, end): what one part covers (corrupt bytes skipped inside it included). */
interface LogPart extends PipelinePart {
  start: number;
  end: number;
}

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

function ingestError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function startLocalIngest(deps: LocalIngestDeps): LocalIngest {
  const { logger } = deps;
  const batchRows = Math.max(1, deps.batchRows);
  const reader = new LocalLogReader(deps.logDir);
  const offsets = new OffsetFile(deps.offsetPath);

  const hadOffsets = existsSync(deps.offsetPath);
  const state = offsets.loadState();
  let committed = state.offset;
  /** A batch that was in flight at the last stop or crash: re-formed exactly, its stored rows left out. */
  let replayEnd = state.pending?.end;
  const logEnd = reader.endOffset();
  /**
   * Records before this offset may be in ClickHouse already: they are looked up and the stored
   * ones left out (stored-rows.ts). The batch in flight at the last stop, and the whole log when
   * it is read again from its start (its offset file lost, or past the log's end).
   */
  let mayRepeatBefore = replayEnd ?? (hadOffsets ? 0 : logEnd);
  if (committed > logEnd) {
    // The log was deleted or replaced under a kept offset file: reading from there would wait
    // forever for bytes that will never come. Start over; rows already stored are left out.
    logger.warn({ committed, log_end: logEnd }, 'ingest offset is past the end of the event log; re-reading the log from its start');
    committed = 0;
    replayEnd = undefined;
    mayRepeatBefore = logEnd;
  }
  let pos = committed;
  let rows = 0;
  let stopping = false;
  const waker = createWaker();
  let flushSeq = 0;
  const waiters: FlushWaiter[] = [];
  const metrics = createIngestMetrics(deps.registry, () => reader.endOffset() - committed);

  const source: PipelineSource<LogPart> = {
    tokenFor: (parts) => `gatelog-local:${offsets.id}:${parts[0]!.start}-${parts.at(-1)!.end}`,
    mayRepeat: (parts) => parts[0]!.start < mayRepeatBefore,
    // Record the batch's range before inserting it: a replay after a crash re-forms it exactly.
    beforeWrite: (parts) => offsets.store(parts[0]!.start, { start: parts[0]!.start, end: parts.at(-1)!.end }),
    deadLetter(_parts, rejected) {
      if (rejected.length === 0) return Promise.resolve();
      writeDeadLetters(deps.deadLetterPath, rejected.map((r) => r.letter));
      for (const r of rejected) metrics.deadLetters.inc({ code: r.letter.reason.type || r.letter.reason.code });
      // Codes only: the message quotes the rejected data, which stays in the dead-letter file.
      logger.error({ count: rejected.length, codes: [...new Set(rejected.map((r) => r.letter.reason.type || r.letter.reason.code))], file: deps.deadLetterPath }, 'ingest: records rejected by ClickHouse were written to the dead-letter file');
      return Promise.resolve();
    },
    // The offset file's fsyncs run on libuv's pool: in the embedded mode this shares its thread
    // with the requests, which must not wait for the disk.
    async commit(parts) {
      await offsets.store(parts.at(-1)!.end);
      committed = parts.at(-1)!.end;
      try {
        await reader.prune(committed);
      } catch (err) {
        logger.warn({ err }, 'event log: could not remove consumed segments');
      }
    },
  };

  /** Read one part of up to `want` records from `pos` (stopping at `end` when given). */
  const readPart = (want: number, end?: number): LogPart => {
    const part: LogPart = { start: pos, end: pos, records: [], rows: 0, bytes: 0 };
    while (part.rows < want && part.bytes < MAX_INSERT_BYTES && (end === undefined || pos < end)) {
      const n = Math.min(READ_CHUNK, want - part.rows);
      // Just-appended records come from the writer's memory; the file only after a restart or
      // when ingest fell further behind than the tail holds.
      const r = (end === undefined ? deps.tail?.read(pos, n) : null) ?? reader.read(pos, n);
      if (end !== undefined) {
        if (r.records.length === 0 || r.skippedBytes > 0) break; // the log no longer holds the range intact
        for (const rec of r.records) {
          if (pos >= end) break;
          part.records.push(rec);
          part.bytes += rec.length + 1;
          pos += RECORD_HEADER_BYTES + rec.length;
        }
      } else {
        if (r.skippedBytes > 0) {
          metrics.corruptBytes.inc(r.skippedBytes);
          logger.error({ bytes: r.skippedBytes, offset: pos }, 'event log: skipped bytes that failed their checksum');
        }
        for (const rec of r.records) {
          part.records.push(rec);
          part.bytes += rec.length + 1;
        }
        pos = r.next;
      }
      part.end = pos;
      part.rows = part.records.length;
      if (r.records.length === 0) break;
    }
    return part;
  };

  let replaying = false;
  let appendedSinceRead = 0;
  /** Queue what the log holds (as room allows); true when caught up with it. */
  const fill = (): boolean => {
    if (replaying || stopping) return true;
    appendedSinceRead = 0;
    while (queue.hasRoom()) {
      // Parts end on batch boundaries where they can, so full batches leave whole.
      const want = batchRows - (queue.pending().rows % batchRows);
      const part = readPart(want);
      if (part.end === part.start) return true;
      queue.add(part);
      if (part.rows < want && part.bytes < MAX_INSERT_BYTES) return true;
    }
    return false;
  };

  const queue = createPipeline<LogPart>({
    source,
    store: deps.store,
    logger,
    metrics,
    batch: { maxRows: batchRows, maxBytes: MAX_INSERT_BYTES, lingerMs: deps.batchMs },
    retry: deps.retry,
    blocks: deps.blocks,
    onWritten: (n) => (rows += n),
    // A write about to leave takes what was appended since the last read along.
    refill: () => void fill(),
  });

  // Wake for the first record after a read (it starts the batch clock) or a full batch's worth;
  // in between, the queue's linger timer and its refill decide, so a busy log is read in batches.
  const unsubscribe = deps.notify?.(() => {
    appendedSinceRead++;
    if (appendedSinceRead === 1 || queue.pending().rows + appendedSinceRead >= batchRows) waker.wake();
  });

  /** The batch that was in flight at the last stop or crash, re-formed alone, as it was. */
  const replay = async (end: number): Promise<void> => {
    replaying = true;
    try {
      const part = readPart(Number.MAX_SAFE_INTEGER, end);
      if (pos !== end) logger.warn({ expected_end: end, reached: pos }, 'ingest: the interrupted batch could not be re-formed exactly; relying on FINAL for duplicates');
      if (part.end > part.start) queue.add(part);
      await queue.drain();
    } finally {
      replaying = false;
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
    if (replayEnd !== undefined) await replay(replayEnd);
    while (!stopping) {
      const seq = flushSeq;
      waker.clear();
      let caughtUp: boolean;
      try {
        caughtUp = fill();
      } catch (err) {
        logger.error({ err }, 'event log: read failed; retrying');
        await waker.wait(NOTIFY_FALLBACK_MS);
        continue;
      }
      if (!caughtUp) {
        // Backpressure: the store is slow or down; the log keeps what is not read yet.
        await queue.waitForRoom(NOTIFY_FALLBACK_MS);
        continue;
      }
      if (waiters.some((w) => w.seq <= seq)) {
        await queue.drain();
        if (committed === pos) settleFlushes(seq);
        continue;
      }
      await waker.wait(deps.notify ? NOTIFY_FALLBACK_MS : POLL_MS);
    }
  };

  const running = loop().catch((err: unknown) => {
    logger.fatal({ err }, 'ingest loop crashed');
  });

  const flush = (): Promise<void> => {
    if (stopping) return Promise.reject(ingestError('GATELOG_INGEST_STOPPED', 'ingest is stopped'));
    return new Promise<void>((resolve, reject) => {
      waiters.push({ seq: ++flushSeq, resolve, reject });
      waker.wake();
    });
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const drained = flush();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deps.stopTimeoutMs ?? 10_000);
      });
      await Promise.race([drained.catch(() => {}), timedOut]);
      clearTimeout(timer);
      stopping = true;
      unsubscribe?.();
      // A write still failing is given up uncommitted: the log replays it on the next start.
      queue.abandon();
      waker.wake();
      await running;
      await queue.close();
      if (committed !== pos) logger.warn({ committed, read: pos }, 'ingest stopped with uncommitted records; they are replayed from the event log on the next start');
      for (const w of waiters.splice(0)) w.reject(ingestError('GATELOG_INGEST_STOPPED', 'ingest stopped before the flush completed'));
    })();
    return stopped;
  };

  return { stop, flush, stats: () => ({ offset: committed, rows }) };
}

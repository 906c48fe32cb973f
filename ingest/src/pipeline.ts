// The one ingest pipeline: whatever the source (the local event log, Kafka), its parts go into
// the same insert queue (insert-queue.ts: batching by rows/bytes/linger, one write in flight,
// capped exponential backoff), and a write is always the same steps with the same metrics:
// apply the erasures asked before the rows were stored (erasure-guard.ts) and mark the rows a
// legal hold covers (hold-marks.ts), leave out the rows ClickHouse holds already where the
// source says some may be there (stored-rows.ts), insert the rest isolating those ClickHouse
// rejects (insert-batch.ts) under a deterministic dedup token, hand the rejected rows to the
// source's dead-letter sink, then let the source commit past the parts. A source supplies only what differs: how a group of parts is named (its dedup token),
// whether it may repeat stored rows, where dead letters go, and how progress is committed.
import { crc32 } from 'node:zlib';
import type { Logger, Store } from '@gatelog/core';
import { BlockWriter } from './body-blocks.ts';
import type { DeadLetter } from './dead-letter.ts';
import { ErasureGuard } from './erasure-guard.ts';
import { HoldMarks } from './hold-marks.ts';
import { RowJoiner, insertIsolating } from './insert-batch.ts';
import { createInsertQueue, type InsertQueue, type QueuedPart } from './insert-queue.ts';
import type { IngestMetrics } from './metrics.ts';
import { withoutStored } from './stored-rows.ts';

export interface PipelinePart extends QueuedPart {
  /** Valid rows (JSONEachRow lines without their newline), in source order. */
  records: Buffer[];
  /** Records the source refused before insert (dead-lettered by it), for the batch metrics. */
  invalid?: number;
}

export interface PipelineSource<P extends PipelinePart> {
  /** Same parts, same name: a retried or replayed write is dropped by ClickHouse's dedup. */
  tokenFor(parts: readonly P[]): string;
  /**
   * Whether the parts may hold rows ClickHouse already has (Kafka: always; the local log: what
   * it re-reads after a restart): those are looked up and left out (stored-rows.ts), so the
   * rollup views never count a call twice.
   */
  mayRepeat?(parts: readonly P[]): boolean;
  /** Before a group's first attempt (the local log remembers the range for an exact replay). */
  beforeWrite?(parts: readonly P[]): Promise<void>;
  /** Rows ClickHouse rejected, by index in the group's rows laid end to end; also the parts' own. */
  deadLetter(parts: readonly P[], rejected: readonly { index: number; letter: DeadLetter }[]): Promise<void>;
  /** Move the source's committed position past the parts (their rows are written). */
  commit(parts: readonly P[]): Promise<void>;
}

export interface BatchSettings {
  /** An insert leaves at this many rows (ingest.batch_rows)… */
  maxRows: number;
  /** …or this many bytes… */
  maxBytes: number;
  /** …or once its oldest row waited this long (ingest.batch_ms). */
  lingerMs: number;
}

/** Insert retry backoff: capped exponential. */
export interface RetrySettings {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { baseMs: 200, maxMs: 10_000 };
/** Bounds memory when bodies are large: an insert closes at this many bytes whatever its rows. */
export const MAX_INSERT_BYTES = 32 << 20;

/** config.ingest → the queue's batching (shared by both sources). */
export function batchSettings(ingest: { batch_rows: number; batch_ms: number }): BatchSettings {
  return { maxRows: Math.max(1, ingest.batch_rows), maxBytes: MAX_INSERT_BYTES, lingerMs: ingest.batch_ms };
}

export interface PipelineDeps<P extends PipelinePart> {
  source: PipelineSource<P>;
  store: Store;
  logger: Logger;
  metrics: IngestMetrics;
  batch: BatchSettings;
  retry?: Partial<RetrySettings> | undefined;
  /** Extra insert settings (the Kafka worker forces synchronous inserts). */
  insertSettings?: Record<string, string | number>;
  /** Called with the rows a write inserted and its parts (after its commit). */
  onWritten?(rows: number, parts: readonly P[]): void;
  /** Whether ClickHouse answered: false on each failed query or insert, true once a write's are done (readiness.ts). */
  onStoreOutcome?(ok: boolean): void;
  /** See InsertQueueOptions.refill. */
  refill?(): void;
  /** Splits large bodies into blocks (body-blocks.ts); one per pipeline by default. */
  blocks?: BlockWriter | undefined;
}

export function createPipeline<P extends PipelinePart>(d: PipelineDeps<P>): InsertQueue<P> {
  const { source, store, logger, metrics } = d;
  const retry = { ...DEFAULT_RETRY, ...d.retry };
  const blocks = d.blocks ?? new BlockWriter();
  // Writes leave one at a time, and a store is done with an insert's bytes once it succeeded
  // (chDB: once it settled): inserts reuse one buffer. Over HTTP the client may still hold the
  // body after an early error: the buffer of a failed insert is never written again.
  const joiner = new RowJoiner();
  const join = (records: readonly Buffer[]): Buffer => joiner.join(records);
  // Erasures asked before a row is stored apply to it (erasure-guard.ts); a row an active legal
  // hold covers is stored marked (hold-marks.ts).
  const erasures = new ErasureGuard(store, logger, metrics);
  const holds = new HoldMarks(store);
  const transient = async <T>(work: Promise<T>): Promise<T> =>
    work.catch((err: unknown) => {
      metrics.insertErrors.inc({ kind: 'transient' });
      d.onStoreOutcome?.(false);
      throw err;
    });

  const write = async (parts: P[], attempt: number): Promise<void> => {
    if (attempt === 0) await source.beforeWrite?.(parts);
    // A read or a mutation that fails is the write failing: retried with backoff like a failed
    // insert. Each part is filtered once, at the first attempt that gets this far.
    await transient(erasures.refresh());
    await transient(erasures.filter(parts));
    await transient(holds.refresh());
    metrics.held.inc(holds.mark(parts));
    // Large bodies: blocks first, so every stored call can be read back whole.
    await transient(blocks.write(store, parts, d.insertSettings));
    const all = parts.flatMap((p) => p.records);
    let records = all;
    let base = source.tokenFor(parts);
    let repeats = 0;
    if (source.mayRepeat?.(parts) === true && all.length > 0) {
      const fresh = await transient(withoutStored(store, all));
      if (fresh.dropped > 0) {
        records = fresh.records;
        repeats = fresh.dropped;
        // Named by what it carries now: a replay that leaves out the same rows is the same
        // insert, one that finds other rows stored is not.
        base = `${base}:k${crc32(fresh.keptIds).toString(16)}-${records.length}`;
      }
    }
    const insert = async (rows: Buffer, range: { from: number; to: number }): Promise<void> => {
      const end = metrics.insertSeconds.startTimer();
      try {
        // Derived from the range too: a bisected group must not share a token with the whole.
        await store.insertRaw('llm_calls', rows, { insert_deduplication_token: `${base}:${range.from}-${range.to}`, ...d.insertSettings });
      } catch (err) {
        if (store.kind !== 'embedded') joiner.forget();
        throw err;
      } finally {
        end();
      }
    };
    const res = records.length === 0
      ? { inserted: 0, dead: [] }
      : await insertIsolating(records, insert, (info) => {
        metrics.insertErrors.inc({ kind: info.data ? 'data' : 'transient' });
        // Rows it rejects as data show ClickHouse at work.
        if (!info.data) d.onStoreOutcome?.(false);
      }, join);
    await transient(erasures.afterInsert(parts));
    d.onStoreOutcome?.(true);
    await source.deadLetter(parts, res.dead.map((letter) => ({ index: all.indexOf(letter.record), letter })));
    await source.commit(parts);
    metrics.rows.inc(res.inserted);
    metrics.repeats.inc(repeats);
    metrics.insertRows.observe(records.length);
    metrics.batchRows.observe(parts.reduce((n, p) => n + p.records.length + (p.invalid ?? 0), 0));
    metrics.batches.inc();
    d.onWritten?.(res.inserted, parts);
  };

  return createInsertQueue<P>({
    write,
    ...d.batch,
    retry,
    ...(d.refill ? { refill: d.refill } : {}),
    onRetry: (err, info) => {
      const e = err as { code?: unknown; message?: unknown };
      logger.warn({ code: e.code, error: String(e.message), attempt: info.attempt, rows: info.rows, retry_in_ms: info.delayMs }, 'ingest: insert failed; keeping the batch uncommitted and retrying');
    },
    onAbandon: (err, info) => {
      logger.warn({ error: String((err as Error).message), rows: info.rows }, 'ingest: stopping with a batch unwritten; it is read again on the next start');
    },
  });
}

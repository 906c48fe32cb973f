// Distributed-mode ingest: a Kafka consumer group writing batches into ClickHouse.
//
// The consumer's eachBatch only validates (invalid → dead-letter topic with the reason) and
// hands the valid rows, as the original bytes, to the insert queue (insert-queue.ts); it moves
// kafkajs' fetch position on so the next fetch overlaps the insert, but commits nothing. The
// queue writes many partitions' batches as one insert (async_insert=0, a deterministic
// insert_deduplication_token derived from the batches' offsets and bytes; rows ClickHouse
// rejects → dead-letter topic), and only then commits each partition's offset past its part.
// ClickHouse down → the write is retried with backoff, the queue fills and holds the consumer
// back while it keeps heartbeating; nothing is committed past an unwritten batch. A worker
// dying between insert and commit makes the next owner fetch the same rows again, and Kafka
// itself may hold a record twice (a producer's re-send): every write first looks its rows up
// and leaves out those ClickHouse holds (stored-rows.ts), so neither llm_calls nor the rollup
// views fed by its inserts get a row twice (the insert token alone would not keep a replay out
// of the views: ClickHouse still runs them on a deduplicated block). A worker that
// only rejoins (its partitions kept) fetches from the committed offsets again: rows it already
// queued or wrote are not inserted twice (the rollup views would count them twice); a commit
// refused meanwhile is made when they arrive again. And a worker writes nothing it holds after
// it rejoins (settleBeforeRejoin): a partition it loses is not inserted by two workers at once.
import { crc32 } from 'node:zlib';
// kafkajs is CommonJS and Node's named-export detection stops before CompressionCodecs: default import.
import kafkajs, { type Consumer, type ConsumerConfig, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { registerKafkaCodecs, type Logger, type Store } from '@gatelog/core';
import type { InsertQueue } from './insert-queue.ts';
import { createIngestMetrics, freshName } from './metrics.ts';
import { locate, pastOffset, toParts, type DeadLetterMessage, type FetchedBatch, type KafkaPart } from './kafka-part.ts';
import { MAX_INSERT_BYTES, createPipeline, type BatchSettings, type PipelineSource, type RetrySettings } from './pipeline.ts';
import type { BlockWriter } from './body-blocks.ts';
import { IngestReadiness, type ReadinessChecks, type ReadinessSettings } from './readiness.ts';

export const DLQ_REASON_HEADER = 'gatelog-dlq-reason';
export const DLQ_SOURCE_HEADER = 'gatelog-dlq-source';

export interface KafkaIngestDeps {
  kafka: Kafka;
  topic: string;
  groupId: string;
  deadLetterTopic: string;
  store: Store;
  logger: Logger;
  registry: Registry;
  /** Insert retry backoff (capped exponential); default 200 ms doubling to 10 s. */
  retry?: Partial<RetrySettings> | undefined;
  /**
   * One insert carries up to `maxRows` rows / `maxBytes` bytes from any partitions; a smaller
   * one leaves once its oldest row waited `lingerMs` (ingest.batch_rows / ingest.batch_ms through
   * createIngest). Defaults 10,000 rows, 32 MiB, 50 ms: ClickHouse inserts ~2 KB rows fastest
   * in blocks of 5–20k.
   */
  batch?: Partial<BatchSettings> | undefined;
  /** Overrides for the kafkajs consumer (timeouts in tests). */
  consumer?: Partial<ConsumerConfig> | undefined;
  /** How long stop() lets the batches in hand retry before giving them up uncommitted; default 10 s. */
  stopTimeoutMs?: number | undefined;
  /** Splits large bodies into blocks (body-blocks.ts; the retention's whole-body teams). */
  blocks?: BlockWriter | undefined;
  /** How long a worker about to rejoin its group may spend writing what it holds (default 10 s; see settleBeforeRejoin). */
  rejoinDrainMs?: number | undefined;
  /** How soon silence from Kafka or ClickHouse makes the worker unready (readiness.ts; tests shorten it). */
  readiness?: Partial<ReadinessSettings> | undefined;
}

export interface KafkaIngest {
  /** Finish (or give up) the batches in hand, commit them, leave the group. */
  stop(): Promise<void>;
  healthy(): boolean;
  /** For /readyz: kafka (connected, in the group), clickhouse (took the last write or ping). */
  readiness(): ReadinessChecks;
  stats(): { rows: number; deadLetters: number; batches: number; inserts: number };
}

const HEARTBEAT_WHILE_WAITING_MS = 1000;
/** A consumer rebuild with no new attempt for this long (beyond the backoff) is stuck: /healthz fails. */
const REBUILD_STUCK_MS = 120_000;

export async function startKafkaIngest(deps: KafkaIngestDeps): Promise<KafkaIngest> {
  const { logger, store } = deps;
  // Every codec a proxy may be set to (bus.compression), whatever this worker's own config says.
  registerKafkaCodecs(kafkajs.CompressionCodecs);
  const metrics = createIngestMetrics(deps.registry);
  const lag = new Gauge({ name: freshName(deps.registry, 'gatelog_ingest_consumer_lag'), help: 'Messages behind the high watermark at the last batch, per partition', labelNames: ['topic', 'partition'], registers: [deps.registry] });
  const baseMs = deps.retry?.baseMs ?? 200;
  const maxMs = deps.retry?.maxMs ?? 10_000;
  const halt = new AbortController();
  const ready = new IngestReadiness(deps.readiness);
  ready.register(deps.registry);
  let crashed = false;
  /**
   * When the rebuild of a consumer kafkajs gave up on last moved (an attempt started or failed).
   * A Kafka outage keeps the rebuild retrying, and the worker stays live; only a rebuild stuck
   * in one attempt for minutes makes /healthz fail, so the orchestrator's restart is a remedy.
   */
  let rebuildMovedAt = 0;
  const totals = { rows: 0, deadLetters: 0, batches: 0, inserts: 0 };
  /** Highest offset committed per partition by this worker: commits never move backwards. */
  const committed = new Map<number, bigint>();

  const dlq: Producer = deps.kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 });
  let consumer: Consumer;
  let stopRequested = false;
  let restarts = 0;
  let inHand = 0;

  const sendDeadLetters = async (letters: DeadLetterMessage[]): Promise<void> => {
    if (letters.length === 0) return;
    await dlq.send({
      topic: deps.deadLetterTopic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.message.key,
        value: l.message.value,
        headers: { [DLQ_REASON_HEADER]: JSON.stringify(l.reason), [DLQ_SOURCE_HEADER]: l.source },
      })),
    });
    for (const l of letters) metrics.deadLetters.inc({ code: l.reason.code });
    totals.deadLetters += letters.length;
    logger.error({ count: letters.length, codes: [...new Set(letters.map((l) => l.reason.code))], topic: deps.deadLetterTopic }, 'ingest: messages sent to the dead-letter topic');
  };

  const commit = async (parts: KafkaPart[]): Promise<void> => {
    const next = new Map<number, bigint>();
    for (const p of parts) {
      const o = BigInt(p.lastOffset) + 1n;
      if (o > (next.get(p.partition) ?? -1n)) next.set(p.partition, o);
    }
    const offsets = [...next].filter(([p, o]) => o > (committed.get(p) ?? -1n)).map(([partition, o]) => ({ topic: deps.topic, partition, offset: o.toString() }));
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
      for (const o of offsets) confirmed(o.partition, BigInt(o.offset));
    } catch (err) {
      // The rows are written. If this worker fetches them again (it kept the partition through
      // the rebalance), the commit is made then, without inserting them again (eachBatch);
      // otherwise the next owner replays them, and FINAL hides the replay.
      for (const o of offsets) if (BigInt(o.offset) > (owed.get(o.partition) ?? -1n)) owed.set(o.partition, BigInt(o.offset));
      logger.warn({ error: String((err as Error).message), partitions: offsets.map((o) => o.partition) }, 'ingest: offset commit failed after a written batch');
    }
  };

  /**
   * Per partition, the last offset handed to the queue. A rejoin (a coordinator failover, a
   * heartbeat that came too late) moves the fetch position back to the committed offset while
   * rows past it wait in the queue or were written without their commit: fetched again, they
   * would be inserted twice — in the same insert as the first time, or in a new one — and FINAL
   * hides that from readers but the rollup views count every row an insert carries. A part handed
   * to the queue is written (or dead-lettered) unless the worker stops, so nothing skipped is
   * lost; after a stop or a crash the next owner reads from the committed offsets.
   */
  const handedThrough = new Map<number, bigint>();
  /** Per partition, the offset a failed commit left uncommitted over rows already written. */
  const owed = new Map<number, bigint>();

  const confirmed = (partition: number, offset: bigint): void => {
    committed.set(partition, offset);
    if (offset >= (owed.get(partition) ?? -1n)) owed.delete(partition);
  };

  /**
   * `batch` was fetched again after a rejoin (it starts at or before what was handed on): commit
   * what a failed commit left owed, then return what is new in it (null: nothing).
   */
  const refetched = async (batch: EachBatchPayload['batch'], through: bigint): Promise<FetchedBatch | null> => {
    const debt = owed.get(batch.partition);
    if (debt !== undefined) {
      try {
        await consumer.commitOffsets([{ topic: deps.topic, partition: batch.partition, offset: debt.toString() }]);
        confirmed(batch.partition, debt);
      } catch (err) {
        logger.warn({ error: String((err as Error).message), partition: batch.partition }, 'ingest: offset commit of written rows failed again; retried when they are fetched again');
      }
    }
    return pastOffset(batch, through);
  };

  const batchSettings: BatchSettings = { maxRows: deps.batch?.maxRows ?? 10_000, maxBytes: deps.batch?.maxBytes ?? MAX_INSERT_BYTES, lingerMs: deps.batch?.lingerMs ?? 50 };
  // Same parts, same token: a write retried after its insert landed is a no-op in ClickHouse.
  const source: PipelineSource<KafkaPart> = {
    tokenFor: (parts) => `${deps.topic}-${crc32(parts.map((p) => `${p.partition}:${p.firstOffset}-${p.lastOffset}`).join(',')).toString(16)}-${parts.length}`,
    // Kafka may hold a record twice (a producer's re-send, a proxy killed before its spool
    // commit): any write may carry a row that is stored already.
    mayRepeat: () => true,
    deadLetter(parts, rejected) {
      const dead = parts.flatMap((p) => p.dead);
      for (const r of rejected) {
        const letter = locate(parts, r.index);
        const reason = r.letter.reason;
        if (letter) dead.push({ ...letter, reason: { code: `CLICKHOUSE_${reason.type || reason.code}`, message: reason.message.slice(0, 500) } });
      }
      return sendDeadLetters(dead);
    },
    commit,
  };
  const queue: InsertQueue<KafkaPart> = createPipeline<KafkaPart>({
    source,
    store,
    logger,
    metrics,
    batch: batchSettings,
    retry: { baseMs, maxMs },
    insertSettings: { async_insert: 0 },
    blocks: deps.blocks,
    onStoreOutcome: (ok) => ready.clickhouse(ok),
    onWritten: (rows, parts) => {
      totals.rows += rows;
      totals.inserts++;
      totals.batches += parts.length;
    },
  });

  /**
   * Before this worker rejoins its group (a rebalance, the coordinator forgot it, a consumer
   * rebuilt after a crash) it may lose partitions whose rows it holds unwritten. The next owner
   * fetches them from the committed offsets and would insert them while this worker still does:
   * the lookup before each insert cannot see an insert that has not landed, and the rollup
   * views count both (llm_calls keeps one, read with FINAL). So nothing this worker holds is
   * written after it rejoins: it writes what it holds first (kafkajs awaits this before sending
   * JoinGroup, and no member is given a partition before every member has rejoined), and what it
   * cannot write within `rejoinDrainMs` is dropped uncommitted — fetched again from the
   * committed offsets by whoever owns the partition next, this worker included (its handed-on
   * marks move back so that fetch is not trimmed).
   */
  const rejoinDrainMs = deps.rejoinDrainMs ?? 10_000;
  /** Moves at every rejoin: a batch handed over by a fetch from before it hands on nothing more. */
  let generation = 0;
  const settleBeforeRejoin = async (): Promise<void> => {
    generation++;
    const deadline = Date.now() + rejoinDrainMs;
    while (inHand > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      queue.drain().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (drained) return;
    const dropped = await queue.discard();
    for (const p of dropped) {
      const back = BigInt(p.firstOffset) - 1n;
      if (back < (handedThrough.get(p.partition) ?? -1n)) handedThrough.set(p.partition, back);
    }
    if (dropped.length > 0) {
      const partitions = [...new Set(dropped.map((p) => p.partition))];
      logger.warn({ parts: dropped.length, rows: dropped.reduce((n, p) => n + p.rows, 0), partitions }, 'ingest: rows not written before rejoining the group were dropped uncommitted; they are fetched again');
    }
  };

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, heartbeat, resolveOffset } = payload;
    if (batch.isEmpty() || stopRequested) return;
    const gen = generation;
    inHand++;
    try {
      lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
      const through = handedThrough.get(batch.partition);
      const first = batch.firstOffset();
      let fresh: FetchedBatch | null = batch;
      if (through !== undefined && first !== null && BigInt(first) <= through) fresh = await refetched(batch, through);
      // Newer rows: their commit covers whatever an earlier failed commit left owed.
      else owed.delete(batch.partition);
      if (fresh === null) {
        resolveOffset(batch.lastOffset());
        return;
      }
      for (const part of toParts(fresh, batchSettings.maxRows)) {
        // Backpressure: while the queue is full (ClickHouse slow or down) this partition waits
        // here, heartbeating so the group keeps it assigned.
        while (!queue.hasRoom() && !stopRequested && gen === generation) {
          await queue.waitForRoom(HEARTBEAT_WHILE_WAITING_MS);
          await heartbeat().catch(() => {});
        }
        // The worker is rejoining (or rejoined) its group: the rest is fetched again by the
        // partition's owner from the committed offset.
        if (gen !== generation) return;
        queue.add(part);
        handedThrough.set(part.partition, BigInt(part.lastOffset));
        // Moves the fetch position only (autoCommit is off): the queue commits after the insert.
        resolveOffset(part.lastOffset);
      }
    } finally {
      inHand--;
    }
  };

  /**
   * kafkajs gives up on a consumer after a non-retriable error (e.g. the coordinator forgot the
   * member after a broker restart); the worker then builds a new one and rejoins the group
   * rather than sitting idle. Uncommitted batches are simply fetched again.
   */
  const runConsumer = async (): Promise<void> => {
    // An event may carry bodies up to logging.body_cap_bytes (16 MiB): fetch room for one whole.
    // No more in one fetch response than that either: catching up on a backlog, 64 MiB fetches
    // (a 64 MiB response, then its inflated batches, all held at once) cost ~4 µs/event more
    // worker CPU than 16 MiB ones (median of 5 A/B pairs, BENCHMARKS.md, 2026-12-03).
    const c = deps.kafka.consumer({ groupId: deps.groupId, allowAutoTopicCreation: true, maxBytesPerPartition: 16 << 20, maxBytes: 16 << 20, ...deps.consumer });
    consumer = c;
    ready.watch(c);
    c.on(c.events.CRASH, (e) => {
      logger.error({ error: String(e.payload.error), restart: e.payload.restart }, 'kafka consumer crashed');
      if (!e.payload.restart && !stopRequested) {
        crashed = true;
        void restart(c);
      }
    });
    // A new generation starts from the committed offsets: forget this worker's high marks.
    c.on(c.events.GROUP_JOIN, () => committed.clear());
    await c.connect();
    await c.subscribe({ topics: [deps.topic], fromBeginning: true });
    await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch, beforeRejoin: settleBeforeRejoin });
  };
  const restart = async (old: Consumer): Promise<void> => {
    rebuildMovedAt = performance.now();
    // The new consumer joins as a new member: the old one's partitions may go to another worker.
    await settleBeforeRejoin();
    await old.disconnect().catch(() => {});
    while (!stopRequested) {
      const delay = Math.min(maxMs, baseMs * 2 ** Math.min(restarts++, 20));
      await new Promise((r) => setTimeout(r, delay).unref());
      if (stopRequested || halt.signal.aborted) return;
      rebuildMovedAt = performance.now();
      try {
        await runConsumer();
        crashed = false;
        restarts = 0;
        logger.info('kafka consumer restarted');
        return;
      } catch (err) {
        logger.warn({ error: String((err as Error).message) }, 'kafka consumer restart failed; retrying');
        rebuildMovedAt = performance.now();
      }
    }
  };

  await dlq.connect();
  const stopPinging = ready.startPinging(store);
  await runConsumer().catch((err: unknown) => {
    stopPinging();
    throw err;
  });

  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        stopPinging();
        const timeoutMs = deps.stopTimeoutMs ?? 10_000;
        // Past the deadline a failing write is given up uncommitted instead of retried.
        const timer = setTimeout(() => {
          halt.abort();
          queue.abandon();
        }, timeoutMs);
        try {
          // No new batches are taken; the ones in hand are written and committed while this
          // worker is still a member of the group (kafkajs drops commits once it stops).
          try {
            consumer.pause([{ topic: deps.topic }]);
          } catch {
            // Not running (crashed, rejoining): there is nothing to pause.
          }
          while (inHand > 0 && !halt.signal.aborted) await new Promise((r) => setTimeout(r, 5));
          await queue.drain();
          await queue.close();
          await consumer.disconnect();
        } finally {
          clearTimeout(timer);
          await dlq.disconnect().catch(() => {});
        }
      })();
      return stopping;
    },
    healthy: () => !crashed || performance.now() - rebuildMovedAt < maxMs + REBUILD_STUCK_MS,
    readiness: () => ready.checks(),
    stats: () => ({ ...totals }),
  };
}

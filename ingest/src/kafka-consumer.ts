// Distributed-mode ingest: a Kafka consumer group writing batches into ClickHouse.
//
// The consumer (@platformatic/kafka, the library the proxy produces with) delivers messages one
// by one; the ones that arrive together (one fetch response) are gathered per partition, only
// validated (invalid → dead-letter topic with the reason) and handed, as the original bytes, to
// the insert queue (insert-queue.ts); fetching goes on so the next fetch overlaps the insert, but
// nothing is committed then. The queue writes many partitions' batches as one insert
// (async_insert=0, a deterministic insert_deduplication_token derived from the batches' offsets
// and bytes; rows ClickHouse rejects → dead-letter topic), and only then commits each
// partition's offset past its part. ClickHouse down → the write is retried with backoff, the
// queue fills and the message stream is paused (the consumer keeps heartbeating on its own);
// nothing is committed past an unwritten batch. A worker dying between insert and commit makes
// the next owner fetch the same rows again, and Kafka itself may hold a record twice (a
// producer's re-send): every write first looks its rows up and leaves out those ClickHouse holds
// (stored-rows.ts), so neither llm_calls nor the rollup views fed by its inserts get a row twice
// (the insert token alone would not keep a replay out of the views: ClickHouse still runs them
// on a deduplicated block). A worker that only rejoins (its partitions kept) fetches from the
// committed offsets again: rows it already queued or wrote are not inserted twice (the rollup
// views would count them twice); a commit refused meanwhile is made when they arrive again.
//
// Why not kafkajs' consumer (ingest's until 2026-12): it allocates per message and per poll —
// 13.8 against 10.8 µs of worker CPU per event catching up on a backlog, 33 against 20 at 5,000
// events/s and 87 against 35 at 1,000/s (BENCHMARKS.md, "Eighteenth round"). It joins the group
// under kafkajs' protocol name, so workers of both kinds share a group during a rolling deploy.
import { crc32 } from 'node:zlib';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, Producer, compressionsAlgorithms, type Message, type MessagesStream } from '@platformatic/kafka';
import { Gauge, type Registry } from 'prom-client';
import { tuneKafkaInflate, type Logger, type Store } from '@gatelog/core';
import type { InsertQueue } from './insert-queue.ts';
import { createIngestMetrics, freshName } from './metrics.ts';
import { locate, pastOffset, toParts, type BusMessage, type DeadLetterMessage, type FetchedBatch, type KafkaPart } from './kafka-part.ts';
import { MAX_INSERT_BYTES, createPipeline, type BatchSettings, type PipelineSource, type RetrySettings } from './pipeline.ts';
import type { BlockWriter } from './body-blocks.ts';

export const DLQ_REASON_HEADER = 'gatelog-dlq-reason';
export const DLQ_SOURCE_HEADER = 'gatelog-dlq-source';

/** The consumer's group and fetch settings a deployment may tune (tests shorten them). */
export interface ConsumerTuning {
  /** How soon the group reassigns a dead worker's partitions (ms); default 30 s. */
  sessionTimeout?: number | undefined;
  /** How long the group waits for members to rejoin in a rebalance (ms); default 60 s, never below the session timeout. */
  rebalanceTimeout?: number | undefined;
  heartbeatInterval?: number | undefined;
  /** Longest a fetch waits for new records (ms); default 5 s. */
  maxWaitTime?: number | undefined;
  /** Retries of one request to Kafka, and the pause between them (ms). */
  retries?: number | undefined;
  retryDelay?: number | undefined;
}

export interface KafkaIngestDeps {
  brokers: readonly string[];
  clientId: string;
  /** One request's deadline (bus.request_timeout_ms). */
  requestTimeoutMs?: number | undefined;
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
  consumer?: ConsumerTuning | undefined;
  /** How long stop() lets the batches in hand retry before giving them up uncommitted; default 10 s. */
  stopTimeoutMs?: number | undefined;
  /** Splits large bodies into blocks (body-blocks.ts; the retention's whole-body teams). */
  blocks?: BlockWriter | undefined;
}

export interface KafkaIngest {
  /** Finish (or give up) the batches in hand, commit them, leave the group. */
  stop(): Promise<void>;
  healthy(): boolean;
  stats(): { rows: number; deadLetters: number; batches: number; inserts: number };
}

const ROOM_WAIT_STEP_MS = 1000;
/** The lag gauge is measured (one ListOffsets request) this often when idle, at most once a second after commits. */
const LAG_EVERY_MS = 5000;
const LAG_AFTER_COMMIT_MS = 1000;
/**
 * kafkajs' round-robin protocol name and version, which this consumer's round-robin assignment
 * matches: a group of kafkajs and platformatic members (a rolling deploy from an older gatelog)
 * agrees on a protocol only when both offer the same name.
 */
const GROUP_PROTOCOLS = [{ name: 'RoundRobinAssigner', version: 0 }];
const FETCH_BYTES = 16 << 20;

type BusRecord = Message<Buffer, Buffer, Buffer, Buffer>;

export async function startKafkaIngest(deps: KafkaIngestDeps): Promise<KafkaIngest> {
  const { logger, store } = deps;
  // Record batches inflate into one buffer of their declared size (kafka-codecs.ts).
  tuneKafkaInflate(compressionsAlgorithms);
  const metrics = createIngestMetrics(deps.registry);
  const lag = new Gauge({ name: freshName(deps.registry, 'gatelog_ingest_consumer_lag'), help: 'Messages not yet written and committed, behind the high watermark, per partition this worker holds', labelNames: ['topic', 'partition'], registers: [deps.registry] });
  const baseMs = deps.retry?.baseMs ?? 200;
  const maxMs = deps.retry?.maxMs ?? 10_000;
  const tuning = deps.consumer ?? {};
  const halt = new AbortController();
  let crashed = false;
  const totals = { rows: 0, deadLetters: 0, batches: 0, inserts: 0 };
  /** Highest offset committed per partition by this worker: commits never move backwards. */
  const committed = new Map<number, bigint>();
  const base = {
    clientId: deps.clientId,
    bootstrapBrokers: [...deps.brokers],
    ...(deps.requestTimeoutMs !== undefined ? { timeout: deps.requestTimeoutMs } : {}),
    ...(tuning.retries !== undefined ? { retries: tuning.retries } : {}),
    ...(tuning.retryDelay !== undefined ? { retryDelay: tuning.retryDelay } : {}),
  };

  const dlq = new Producer<Buffer, Buffer, Buffer, Buffer>({ ...base, idempotent: true, acks: -1, autocreateTopics: true });
  let consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  let stopRequested = false;
  let restarts = 0;
  let inHand = 0;

  const sendDeadLetters = async (letters: DeadLetterMessage[]): Promise<void> => {
    if (letters.length === 0) return;
    await dlq.send({
      messages: letters.map((l) => ({
        topic: deps.deadLetterTopic,
        ...(l.message.key ? { key: l.message.key } : {}),
        ...(l.message.value ? { value: l.message.value } : {}),
        headers: new Map([[Buffer.from(DLQ_REASON_HEADER), Buffer.from(JSON.stringify(l.reason))], [Buffer.from(DLQ_SOURCE_HEADER), Buffer.from(l.source)]]),
      })),
    });
    for (const l of letters) metrics.deadLetters.inc({ code: l.reason.code });
    totals.deadLetters += letters.length;
    logger.error({ count: letters.length, codes: [...new Set(letters.map((l) => l.reason.code))], topic: deps.deadLetterTopic }, 'ingest: messages sent to the dead-letter topic');
  };

  const commitOffsets = (offsets: { partition: number; offset: bigint }[]): Promise<void> =>
    consumer.commit({ offsets: offsets.map((o) => ({ topic: deps.topic, partition: o.partition, offset: o.offset, leaderEpoch: -1 })) });

  const commit = async (parts: KafkaPart[]): Promise<void> => {
    const next = new Map<number, bigint>();
    for (const p of parts) {
      const o = p.lastOffset + 1n;
      if (o > (next.get(p.partition) ?? -1n)) next.set(p.partition, o);
    }
    const offsets = [...next].filter(([p, o]) => o > (committed.get(p) ?? -1n)).map(([partition, offset]) => ({ partition, offset }));
    if (offsets.length === 0) return;
    try {
      await commitOffsets(offsets);
      for (const o of offsets) confirmed(o.partition, o.offset);
      if (Date.now() - lagAt >= LAG_AFTER_COMMIT_MS) measureLag();
    } catch (err) {
      // The rows are written. If this worker fetches them again (it kept the partition through
      // the rebalance), the commit is made then, without inserting them again (hand());
      // otherwise the next owner replays them, and FINAL hides the replay.
      for (const o of offsets) if (o.offset > (owed.get(o.partition) ?? -1n)) owed.set(o.partition, o.offset);
      logger.warn({ error: String((err as Error).message), partitions: offsets.map((o) => o.partition) }, 'ingest: offset commit failed after a written batch');
    }
  };

  /** Messages behind the high watermark, per partition this worker holds: written and committed is caught up. */
  let lagAt = 0;
  const measureLag = (): void => {
    lagAt = Date.now();
    const c = consumer;
    c.getLag({ topics: [deps.topic] }).then((offsets) => {
      if (c !== consumer) return;
      for (const [topic, partitions] of offsets) {
        partitions.forEach((behind, partition) => {
          if (behind < 0n) lag.remove({ topic, partition: String(partition) });
          else lag.set({ topic, partition: String(partition) }, Number(behind));
        });
      }
    }, (err: unknown) => logger.debug({ error: String((err as Error).message) }, 'ingest: consumer lag not measured'));
  };
  const lagTimer = setInterval(() => {
    if (Date.now() - lagAt >= LAG_EVERY_MS) measureLag();
  }, LAG_EVERY_MS).unref();

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
  const refetched = async (batch: FetchedBatch, through: bigint): Promise<FetchedBatch | null> => {
    const debt = owed.get(batch.partition);
    if (debt !== undefined) {
      try {
        await commitOffsets([{ partition: batch.partition, offset: debt }]);
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
    onWritten: (rows, parts) => {
      totals.rows += rows;
      totals.inserts++;
      totals.batches += parts.length;
    },
  });

  /** One partition's messages that arrived together: validated and handed to the queue. */
  const hand = async (batch: FetchedBatch): Promise<void> => {
    const through = handedThrough.get(batch.partition);
    const first = batch.messages[0]?.offset ?? batch.lastOffset;
    let fresh: FetchedBatch | null = batch;
    if (through !== undefined && first <= through) fresh = await refetched(batch, through);
    // Newer rows: their commit covers whatever an earlier failed commit left owed.
    else owed.delete(batch.partition);
    if (fresh === null) return;
    for (const part of toParts(fresh, batchSettings.maxRows)) {
      // Backpressure: while the queue is full (ClickHouse slow or down) the stream stays paused
      // (no more fetches); the consumer heartbeats on its own, so the group keeps this worker.
      while (!queue.hasRoom() && !stopRequested) {
        stream?.pause();
        await queue.waitForRoom(ROOM_WAIT_STEP_MS);
      }
      if (stopRequested) return;
      queue.add(part);
      handedThrough.set(part.partition, part.lastOffset);
    }
  };

  /**
   * Messages arrive one at a time; those of one fetch response arrive in one go, so what came
   * in before the next turn of the event loop is handed on as one batch per partition, in order
   * (batches are handed one after another, never two at once).
   */
  let arrived = new Map<number, BusMessage[]>();
  let gathering = false;
  let handing: Promise<void> = Promise.resolve();
  const handArrived = async (batches: Map<number, BusMessage[]>, from: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> => {
    try {
      for (const [partition, messages] of batches) {
        if (stopRequested) return;
        await hand({ topic: deps.topic, partition, messages, lastOffset: messages[messages.length - 1]!.offset });
      }
    } finally {
      inHand--;
      if (!stopRequested && from === stream && from.isPaused()) from.resume();
    }
  };
  const onMessage = (from: MessagesStream<Buffer, Buffer, Buffer, Buffer>) => (m: BusRecord): void => {
    if (stopRequested) return;
    let list = arrived.get(m.partition);
    if (!list) arrived.set(m.partition, (list = []));
    list.push(m);
    if (gathering) return;
    gathering = true;
    inHand++;
    setImmediate(() => {
      const batches = arrived;
      arrived = new Map();
      gathering = false;
      handing = handing.then(() => handArrived(batches, from)).catch((err: unknown) => {
        logger.error({ error: String((err as Error).message) }, 'ingest: handing fetched messages on failed');
      });
    });
  };

  /**
   * A consumer that fails for good (its stream errors: e.g. the group or the brokers gone for
   * longer than its retries) is closed and a new one rejoins the group rather than sitting idle.
   * Uncommitted batches are simply fetched again.
   */
  const sessionTimeout = tuning.sessionTimeout ?? 30_000;
  const runConsumer = async (): Promise<void> => {
    const c = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...base,
      groupId: deps.groupId,
      autocommit: false,
      autocreateTopics: true,
      protocols: GROUP_PROTOCOLS,
      sessionTimeout,
      // Never shorter than the session (the client refuses that).
      rebalanceTimeout: Math.max(sessionTimeout, tuning.rebalanceTimeout ?? 60_000),
      heartbeatInterval: tuning.heartbeatInterval ?? 3_000,
      // An event may carry bodies up to logging.body_cap_bytes (16 MiB): fetch room for one whole.
      // No more in one fetch response than that either: catching up on a backlog, 64 MiB fetches
      // (a 64 MiB response, then its inflated batches, all held at once) cost ~4 µs/event more
      // worker CPU than 16 MiB ones (BENCHMARKS.md, 2026-12-03).
      maxBytes: FETCH_BYTES,
      maxBytesPerPartition: FETCH_BYTES,
      maxWaitTime: tuning.maxWaitTime ?? 5_000,
    });
    consumer = c;
    // A new generation starts from the committed offsets: forget this worker's high marks.
    c.on('consumer:group:join', () => committed.clear());
    const failed = (err: Error): void => {
      if (stopRequested || c !== consumer || crashed) return;
      logger.error({ error: String(err.message) }, 'kafka consumer failed');
      crashed = true;
      void restart(c);
    };
    // The client reports a rejoin that failed for good here (unheard, it would end the process).
    c.on('error', failed);
    try {
      const s = await c.consume({ topics: [deps.topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST });
      stream = s;
      s.on('data', onMessage(s));
      s.on('error', failed);
    } catch (err) {
      await c.close(true).catch(() => {});
      throw err;
    }
  };
  const restart = async (old: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> => {
    await stream?.close().catch(() => {});
    await old.close(true).catch(() => {});
    while (!stopRequested) {
      const delay = Math.min(maxMs, baseMs * 2 ** Math.min(restarts++, 20));
      await new Promise((r) => setTimeout(r, delay).unref());
      if (stopRequested || halt.signal.aborted) return;
      try {
        await runConsumer();
        crashed = false;
        restarts = 0;
        logger.info('kafka consumer restarted');
        return;
      } catch (err) {
        logger.warn({ error: String((err as Error).message) }, 'kafka consumer restart failed; retrying');
      }
    }
  };

  await runConsumer();

  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        const timeoutMs = deps.stopTimeoutMs ?? 10_000;
        // Past the deadline a failing write is given up uncommitted instead of retried.
        const timer = setTimeout(() => {
          halt.abort();
          queue.abandon();
        }, timeoutMs);
        try {
          // No new batches are taken; the ones in hand are written and committed while this
          // worker is still a member of the group (commits after leaving it are refused).
          stream?.pause();
          while (inHand > 0 && !halt.signal.aborted) await new Promise((r) => setTimeout(r, 5));
          await queue.drain();
          await queue.close();
          clearInterval(lagTimer);
          await stream?.close().catch(() => {});
          await consumer.close(true).catch(() => {});
        } finally {
          clearTimeout(timer);
          await dlq.close().catch(() => {});
        }
      })();
      return stopping;
    },
    healthy: () => !crashed,
    stats: () => ({ ...totals }),
  };
}

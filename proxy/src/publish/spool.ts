// The proxy's spool: every event goes through the same durable local log the embedded mode
// uses (core/bus/local-log.ts) before it reaches Kafka, so a request never waits on Kafka and
// an event is on disk before its response is finished. The relay commits an offset only after
// Kafka acknowledged everything before it.
//
// Full spool (over maxBytes, or the disk refuses the write): the documented behaviour is to
// keep serving and record the event without its bodies (`truncated: true`), loudly; only when
// even that cannot be written is the event dropped, and that is counted and logged too.
import { LocalLogWriter, OffsetFile, encodeEvent, type LlmCallEvent, type Logger } from '@gatelog/core';
import { relayOffsetPath, spoolLogDir } from './relay-shared.ts';
import { stripBodies } from './strip-bodies.ts';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  logger: Logger;
  fsyncMs?: number;
  segmentBytes?: number;
}

export type SpoolOutcome = 'spooled' | 'stripped' | 'dropped';

const FULL_LOG_MS = 10_000;

export class Spool {
  readonly writer: LocalLogWriter;
  #committed: number;
  #maxBytes: number;
  #logger: Logger;
  #full = false;
  #lastFullLog = 0;
  #suppressed = 0;
  constructor(opts: SpoolOptions) {
    this.#logger = opts.logger;
    this.#maxBytes = opts.maxBytes;
    this.writer = new LocalLogWriter({
      dir: spoolLogDir(opts.dir),
      fsyncMs: opts.fsyncMs ?? 20,
      ...(opts.segmentBytes ? { segmentBytes: opts.segmentBytes } : {}),
      onError: (err) => opts.logger.error({ err }, 'spool fsync failed'),
    });
    if (this.writer.tornBytes > 0) opts.logger.warn({ bytes: this.writer.tornBytes }, 'spool: cut a torn last record left by a crash');
    this.#committed = Math.min(new OffsetFile(relayOffsetPath(opts.dir)).load(), this.writer.endOffset);
  }

  get committed(): number {
    return this.#committed;
  }

  get lagBytes(): number {
    return this.writer.endOffset - this.#committed;
  }

  /** True while events are being recorded without bodies. */
  get full(): boolean {
    return this.#full;
  }

  /** Synchronous, never throws. */
  append(event: LlmCallEvent): SpoolOutcome {
    const { bytes, outcome } = this.#encode(event);
    try {
      this.writer.append(bytes);
      return this.#written(event, outcome);
    } catch (err) {
      return this.#failed(event, outcome, err);
    }
  }

  /**
   * The batched append (LocalLogWriter.appendBatched): the events of one turn in one write;
   * `done` gets the outcome once the event is written. Never throws.
   */
  appendBatched(event: LlmCallEvent, done: (outcome: SpoolOutcome) => void): void {
    const { bytes, outcome } = this.#encode(event);
    try {
      this.writer.appendBatched(bytes, (err) => done(err === null ? this.#written(event, outcome) : this.#failed(event, outcome, err)));
    } catch (err) {
      done(this.#failed(event, outcome, err));
    }
  }

  #encode(event: LlmCallEvent): { bytes: Buffer; outcome: SpoolOutcome } {
    const bytes = encodeEvent(event);
    if (this.lagBytes + bytes.length <= this.#maxBytes) return { bytes, outcome: 'spooled' };
    return { bytes: encodeEvent(stripBodies(event)), outcome: 'stripped' };
  }

  #written(event: LlmCallEvent, outcome: SpoolOutcome): SpoolOutcome {
    if (outcome === 'spooled') this.#full = false;
    else this.#warnFull(event.request_id, 'spool is over spool_max_bytes');
    return outcome;
  }

  /** The write failed: the event without its bodies if that can be written, else dropped (loudly). */
  #failed(event: LlmCallEvent, outcome: SpoolOutcome, err: unknown): SpoolOutcome {
    if (outcome === 'spooled') {
      try {
        this.writer.append(encodeEvent(stripBodies(event)));
        this.#warnFull(event.request_id, 'spool write failed; recorded the event without bodies', err);
        return 'stripped';
      } catch {
        // fall through: not even the metadata fits
      }
    }
    this.#full = true;
    this.#logger.error({ err, request_id: event.request_id, code: 'GATELOG_ERR_SPOOL_WRITE' }, 'could not write call event to the spool; event dropped');
    return 'dropped';
  }

  #warnFull(requestId: string, msg: string, err?: unknown): void {
    this.#full = true;
    const now = Date.now();
    if (now - this.#lastFullLog < FULL_LOG_MS) {
      this.#suppressed++;
      return;
    }
    this.#logger.error({ err, request_id: requestId, lag_bytes: this.lagBytes, max_bytes: this.#maxBytes, suppressed: this.#suppressed, code: 'GATELOG_ERR_SPOOL_FULL' }, `${msg}: request and response bodies are not recorded until Kafka catches up`);
    this.#lastFullLog = now;
    this.#suppressed = 0;
  }

  /** The relay (relay-worker.ts) committed everything before `offset`: Kafka has it. */
  acknowledged(offset: number): void {
    if (offset > this.#committed) this.#committed = offset;
  }

  close(): void {
    this.writer.close();
  }
}

// The end of one relayed call's life, in one place: how it ended (answered, aborted by the
// client, broken mid-response, failed upstream, cut short by capture) is set on its record
// here and nowhere else, and its event is published exactly once (claimed on the request),
// settling governance's reservations with the event and counting it in metrics.
import type { LlmCallEvent, RouterConfig } from '@gatelog/core';
import { toEvent, type CallRecord, type EventEnv } from './call-record.ts';
import { estimateTokens } from './usage.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { claimEvent, type RequestState } from '../request-state.ts';

export interface RelayEnv extends EventEnv {
  publish: (e: LlmCallEvent) => void;
  /**
   * Publish with the other events of this turn of the event loop in one write, and call
   * `written` once the event is recorded (or could not be: it is never held back for good).
   * Absent: `publish` records the event before it returns.
   */
  publishThen?: ((e: LlmCallEvent, written: () => void) => void) | undefined;
  /** Called when building or publishing an event throws (throttled by the caller). */
  onPublishError: (err: unknown, requestId: string) => void;
  metrics: ProxyMetrics;
  /** Retries, timeouts, keepalives; default: the config defaults. */
  router?: RouterConfig;
}

/** Generated output to estimate tokens from: the text kept, and the bytes received past the kept text's bound. */
export interface Produced {
  text: string;
  droppedBytes: number;
}

/** Every upstream attempt failed and nothing answered that can be passed on. */
export interface UpstreamFailure {
  status: number;
  errorClass: string;
  message: string;
}

export class CallLife {
  readonly env: RelayEnv;
  readonly rec: CallRecord;
  readonly st: RequestState;
  readonly route: string;
  /** The request as sent upstream (input tokens are estimated from it). */
  readonly json: Record<string, unknown>;

  constructor(env: RelayEnv, rec: CallRecord, st: RequestState, route: string, json: Record<string, unknown>) {
    this.env = env;
    this.rec = rec;
    this.st = st;
    this.route = route;
    this.json = json;
  }

  /** The upstream stopped sending (finished, failed or was abandoned) now. */
  upstreamEnded(): void {
    this.rec.tUpstreamEnd = performance.now();
  }

  /** The upstream answered with this status (passed on to the client). */
  answered(status: number): void {
    this.rec.status = status;
  }

  /** The client left before the end; 499 unless a status was already sent. */
  aborted(statusSent: boolean): void {
    this.upstreamEnded();
    const r = this.rec;
    r.outcome = 'client_aborted';
    r.errorType = 'client_aborted';
    r.errorClass = 'client_aborted';
    if (!statusSent) r.status = 499;
  }

  /** The upstream broke after the client got its first byte (no retry possible any more). */
  broke(errorClass: string, message: string): void {
    this.upstreamEnded();
    this.cut(errorClass, message);
  }

  /** No upstream attempt answered: recorded and published now (the client gets gatelog's error). */
  failed(f: UpstreamFailure): void {
    this.upstreamEnded();
    const r = this.rec;
    r.status = f.status;
    r.outcome = 'error';
    r.errorType = f.errorClass;
    r.errorClass = f.errorClass;
    r.errorMessage = f.message;
    this.publish();
  }

  /** The response reached the client, but what was recorded of it is not whole. */
  cut(errorClass: string, message: string): void {
    const r = this.rec;
    r.outcome = 'partial';
    r.errorType = errorClass;
    r.errorClass = errorClass;
    r.errorMessage = message;
  }

  /** A complete answer. */
  succeeded(): void {
    this.rec.outcome = 'success';
  }

  /** The upstream answered an HTTP error (status already set), passed on unchanged. */
  httpError(errorType: string, message: string): void {
    const r = this.rec;
    r.outcome = 'error';
    r.errorType = errorType;
    r.errorMessage = message;
    r.errorClass = `http_${r.status}`;
  }

  /** Thrown before the call's event: release what governance reserved (the error answered is recorded apart). */
  released(): void {
    if (this.st.event === 'pending') this.rec.onEvent?.(null);
  }

  /**
   * Build and publish the event, once: the request's event is claimed so that an error
   * answered after this is not recorded again. `count`: also count the request in metrics —
   * only for responses that never 'finish' (client abort, broken upstream); fastify's
   * onResponse hook counts all the others.
   */
  publish(count = false): void {
    if (claimEvent(this.st)) this.emit(count, performance.now());
  }

  /**
   * Publish once the tokens are known: at once when the upstream reported usage (`output`
   * null), else after the bounded estimate (input + `output`, the text produced), so the budget
   * settles to that cost. The request is marked published at once: nothing may record it a
   * second time.
   */
  publishEstimated(output: Produced | null, count: boolean, after?: () => void): void {
    const tEnd = performance.now();
    // Claimed at once, before any estimate: nothing may record this call meanwhile.
    if (!claimEvent(this.st)) {
      after?.();
      return;
    }
    const publish = (): void => this.emit(count, tEnd, after);
    if (output === null) return publish();
    void estimateTokens(this.json, output.text, output.droppedBytes).then(
      (t) => {
        this.rec.tokens = t;
      },
      () => undefined,
    ).then(publish);
  }

  /**
   * Build the event, settle governance, publish, count; the caller has claimed the event.
   * `after` (the client's end of response) runs once the event is recorded.
   */
  private emit(count: boolean, tEnd: number, after?: () => void): void {
    const { env, rec } = this;
    let event: LlmCallEvent;
    let handed = false;
    try {
      event = toEvent(rec, env, tEnd);
      // Governance: settle budget/rate reservations, fill the cache. Never throws; idempotent.
      rec.onEvent?.(event);
      if (after && env.publishThen) {
        env.publishThen(event, after);
        handed = true;
      } else env.publish(event);
    } catch (err) {
      if (!handed) rec.onEvent?.(null);
      // Never fail the client's call because recording failed.
      env.onPublishError(err, rec.requestId);
      if (!handed) after?.();
      return;
    }
    if (count) env.metrics.request(this.route, rec.status, event.latency_ms / 1000);
    env.metrics.overhead(event.overhead_ms / 1000);
    if (rec.errorClass && rec.outcome !== 'client_aborted') env.metrics.upstreamError(rec.provider, rec.errorClass);
    if (!handed) after?.();
  }
}

/** What a call refused before any upstream attempt answered: its status and error. */
export interface RefusalAnswer {
  status: number;
  /** error_type as recorded. */
  type: string;
  message: string;
  /** The error's code (error class). */
  code: string;
}

/**
 * The event of a call gatelog refused itself before any upstream attempt (governance, bad
 * input): outcome `refused`, no attempts, timed as ending now. Fills `rec` with the answer.
 * The caller has claimed the request's event (claimEvent).
 */
/**
 * Bodies of refused calls are kept to this many bytes (flagged truncated beyond): no model saw
 * them, and a tenant sending megabytes the proxy refuses must not buy other calls' event-loop
 * time in redaction and encoding (20–75 µs per KB).
 */
export const REFUSED_BODY_CAP = 256 * 1024;

export function toRefusedEvent(rec: CallRecord, env: EventEnv, a: RefusalAnswer): LlmCallEvent {
  const t = performance.now();
  rec.tDispatch = t;
  rec.tUpstreamEnd = t;
  rec.status = a.status;
  rec.outcome = 'refused';
  rec.errorType = a.type;
  rec.errorMessage = a.message;
  rec.errorClass = a.code;
  const e = toEvent(rec, { ...env, bodyCap: Math.min(env.bodyCap, REFUSED_BODY_CAP) }, t);
  e.attempts = [];
  delete e.attempt_io;
  delete e.attempt_starts;
  return e;
}

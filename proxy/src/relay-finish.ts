// The end of one call's life in the relay: fill its record from what the upstream sent,
// estimate tokens when the upstream reported none (bounded, off the event loop), publish the
// event exactly once (settling governance's reservations with its cost), then end the
// client's response.
import type { ServerResponse } from 'node:http';
import type { RouterConfig, LlmCallEvent } from '@gatelog/core';
import { toEvent, type CallRecord, type EventEnv } from './capture/call-record.ts';
import { captureKind, summarizeJsonBody, type StreamCapture } from './capture/response-capture.ts';
import { estimateTokens, tokensFromUsage, type Tokens } from './capture/usage.ts';
import { tokenizerWarm } from './capture/token-estimate.ts';
import type { ProxyMetrics } from './metrics.ts';
import { claimEvent, type RequestState } from './request-state.ts';

/** Generated output to estimate tokens from: the text kept, and the bytes received past the kept text's bound. */
export interface Produced {
  text: string;
  droppedBytes: number;
}

/** What a response produced so far, for the estimate (null: the upstream reported usage). */
export function produced(capture: StreamCapture | null, rawText: string): Produced {
  if (!capture) return { text: rawText, droppedBytes: 0 };
  const a = capture.assembler;
  return { text: a.outputText(), droppedBytes: a.budget.droppedBytes };
}

export interface RelayEnv extends EventEnv {
  publish: (e: LlmCallEvent) => void;
  /** Called when building or publishing an event throws (throttled by the caller). */
  onPublishError: (err: unknown, requestId: string) => void;
  metrics: ProxyMetrics;
  /** Retries, timeouts, keepalives; default: the config defaults. */
  router?: RouterConfig;
}

/**
 * Build and publish the event, once: the request's event is claimed (`st`) so that an error
 * answered after this is not recorded again. `count`: also count the request in metrics — only
 * for responses that never 'finish' (client abort, broken upstream); fastify's onResponse hook
 * counts all the others.
 */
export function publishSafely(env: RelayEnv, rec: CallRecord, st: RequestState, route: string, count = false, tEnd = performance.now()): void {
  if (claimEvent(st)) emit(env, rec, route, count, tEnd);
}

/** Build the event, settle governance, publish, count; the caller has claimed the event. */
function emit(env: RelayEnv, rec: CallRecord, route: string, count: boolean, tEnd: number): void {
  let event: LlmCallEvent;
  try {
    event = toEvent(rec, env, tEnd);
    // Governance: settle budget/rate reservations, fill the cache. Never throws; idempotent.
    rec.onEvent?.(event);
    env.publish(event);
  } catch (err) {
    rec.onEvent?.(null);
    // Never fail the client's call because recording failed.
    env.onPublishError(err, rec.requestId);
    return;
  }
  if (count) env.metrics.request(route, rec.status, event.latency_ms / 1000);
  env.metrics.overhead(event.overhead_ms / 1000);
  if (rec.errorClass && rec.outcome !== 'client_aborted') env.metrics.upstreamError(rec.provider, rec.errorClass);
}

/**
 * Publish once the tokens are known: at once when the upstream reported usage (`output` null),
 * else after the bounded estimate (input + `output`, the text produced), so the budget settles
 * to that cost. The request is marked published at once: nothing may record it a second time.
 */
export function publishEstimated(
  env: RelayEnv, rec: CallRecord, st: RequestState, route: string, json: Record<string, unknown>, output: Produced | null, count: boolean, after?: () => void,
): void {
  const tEnd = performance.now();
  // Claimed at once, before any estimate: nothing may record this call meanwhile.
  if (!claimEvent(st)) {
    after?.();
    return;
  }
  const publish = (): void => {
    emit(env, rec, route, count, tEnd);
    after?.();
  };
  if (output === null) return publish();
  void estimateTokens(json, output.text, output.droppedBytes).then(
    (t) => {
      rec.tokens = t;
    },
    () => undefined,
  ).then(publish);
}

/** Tokens the adapter read from the upstream, if any, into the record; whether there were some. */
export function applyReported(rec: CallRecord, reported: (() => Tokens | null) | undefined): boolean {
  const t = reported?.();
  if (t) rec.tokens = t;
  return t !== null && t !== undefined;
}

export function applyStreamSummary(rec: CallRecord, capture: StreamCapture): void {
  const a = capture.assembler;
  rec.upstreamModel = a.model;
  rec.finishReason = a.finishReason;
  if (a.usage) rec.tokens = tokensFromUsage(a.usage);
}

/** Upstream finished cleanly: summarize, publish, then end the client's response. */
export function complete(
  env: RelayEnv,
  rec: CallRecord,
  st: RequestState,
  route: string,
  res: ServerResponse,
  capture: StreamCapture | null,
  chunks: Buffer[] | null,
  json: Record<string, unknown>,
  reported?: () => Tokens | null,
): void {
  let estimateFrom: Produced | null;
  try {
    estimateFrom = summarize(rec, capture, chunks, reported);
  } catch {
    // Whatever capture choked on, the client already has the answer: record it flagged.
    rec.outcome = 'partial';
    rec.errorType = rec.errorClass = 'capture_failed';
    rec.errorMessage = 'gatelog could not capture the upstream response';
    estimateFrom = { text: '', droppedBytes: 0 };
  }
  if (estimateFrom !== null && !tokenizerWarm()) {
    // First estimate of the process: the tokenizer worker is still loading. Don't hold the
    // client for it; the record follows the end by that one-off load.
    res.end();
    publishEstimated(env, rec, st, route, json, estimateFrom, false);
    return;
  }
  // Recorded before the response ends: once the client has its answer, the event is already in
  // the log and survives a SIGKILL that follows (appending costs tens of µs; a client can act
  // on its answer, even kill us, faster than the rest of this turn would take).
  publishEstimated(env, rec, st, route, json, estimateFrom, false, () => res.end());
}

/** Fill the record from a complete response; returns the output text to estimate tokens from when no usage was reported, else null. */
function summarize(rec: CallRecord, capture: StreamCapture | null, chunks: Buffer[] | null, reported?: () => Tokens | null): Produced | null {
  let estimateFrom: Produced | null = null;
  if (capture) {
    const a = capture.assembler;
    rec.responseBody = a.chunks > 0 ? JSON.stringify(a.toJSON()) : '';
    // Text past the capture's budget was counted, not kept: the stored response is not whole.
    if (a.budget.droppedBytes > 0) rec.responseCut = true;
    applyStreamSummary(rec, capture);
    if (!a.usage) estimateFrom = produced(capture, '');
    rec.outcome = 'success';
    if (!capture.sawDone && !a.finishReason) {
      // Ended cleanly at the transport but not at the protocol: no [DONE], no finish reason.
      rec.outcome = 'partial';
      rec.errorType = rec.errorClass = 'upstream_stream_incomplete';
      rec.errorMessage = 'stream ended without [DONE] or a finish reason';
    }
  } else {
    rec.responseBody = chunks ? Buffer.concat(chunks).toString('utf8') : '';
    const s = summarizeJsonBody(rec.responseBody, rec.status, captureKind(rec.api));
    rec.upstreamModel = s.upstreamModel;
    rec.finishReason = s.finishReason;
    if (s.tokens) rec.tokens = s.tokens;
    if (rec.status >= 400) {
      rec.outcome = 'error';
      rec.errorType = s.errorType;
      rec.errorMessage = s.errorMessage;
      rec.errorClass = `http_${rec.status}`;
    } else {
      rec.outcome = 'success';
      if (!s.tokens && rec.status < 300) estimateFrom = { text: s.outputText, droppedBytes: 0 };
    }
  }
  return applyReported(rec, reported) ? null : estimateFrom;
}

// The end of one call's life in the relay: fill its record from what the upstream sent,
// estimate tokens when the upstream reported none (bounded, off the event loop), publish the
// event through the call's life (once, settling governance's reservations with its cost),
// then end the client's response.
import type { CallLife, Produced } from './capture/call-life.ts';
import type { CallRecord } from './capture/call-record.ts';
import { captureKind, summarizeJsonBody, type StreamCapture } from './capture/response-capture.ts';
import { tokensFromUsage, type Tokens } from './capture/usage.ts';
import { opaqueBodyText } from './capture/opaque-body.ts';
import { mediaUnits } from './capture/media-units.ts';
import { tokenizerWarm } from './capture/token-estimate.ts';

export type { Produced, RelayEnv } from './capture/call-life.ts';

/** What a response produced so far, for the estimate (null: the upstream reported usage). */
export function produced(capture: StreamCapture | null, rawText: string): Produced {
  if (!capture) return { text: rawText, droppedBytes: 0 };
  const a = capture.assembler;
  return { text: a.outputText(), droppedBytes: a.budget.droppedBytes };
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

/** Upstream finished cleanly: summarize, publish, then end the client's response (`end`). */
export function complete(
  life: CallLife,
  end: () => void,
  capture: StreamCapture | null,
  chunks: Buffer[] | null,
  reported?: () => Tokens | null,
  opaque: string | null = null,
): void {
  let estimateFrom: Produced | null;
  try {
    estimateFrom = summarize(life, capture, chunks, reported, opaque);
  } catch {
    // Whatever capture choked on, the client already has the answer: record it flagged.
    life.cut('capture_failed', 'gatelog could not capture the upstream response');
    estimateFrom = { text: '', droppedBytes: 0 };
  }
  if (estimateFrom !== null && !tokenizerWarm()) {
    // First estimate of the process: the tokenizer worker is still loading. Don't hold the
    // client for it; the record follows the end by that one-off load.
    end();
    life.publishEstimated(estimateFrom, false);
    return;
  }
  // Recorded before the response ends: once the client has its answer, the event is already in
  // the log and survives a SIGKILL that follows (appending costs tens of µs; a client can act
  // on its answer, even kill us, faster than the rest of this turn would take).
  life.publishEstimated(estimateFrom, false, end);
}

/** Fill the record from a complete response; returns the output text to estimate tokens from when no usage was reported, else null. */
function summarize(life: CallLife, capture: StreamCapture | null, chunks: Buffer[] | null, reported?: () => Tokens | null, opaque: string | null = null): Produced | null {
  const rec = life.rec;
  let estimateFrom: Produced | null = null;
  if (capture) {
    const a = capture.assembler;
    rec.responseBody = a.chunks > 0 ? JSON.stringify(a.toJSON()) : '';
    // Text past the capture's budget was counted, not kept: the stored response is not whole.
    if (a.budget.droppedBytes > 0) rec.responseCut = true;
    applyStreamSummary(rec, capture);
    if (!a.usage) estimateFrom = produced(capture, '');
    // Ended cleanly at the transport but not at the protocol: no [DONE], no finish reason.
    if (!capture.sawDone && !a.finishReason) life.cut('upstream_stream_incomplete', 'stream ended without [DONE] or a finish reason');
    else life.succeeded();
  } else if (opaque !== null) {
    // Speech audio is not stored, and carries no usage to read: 0 tokens, never an estimate.
    rec.responseBody = opaqueBodyText(opaque, chunks === null ? 0 : chunks.reduce((n, c) => n + c.length, 0));
    if (rec.status >= 400) life.httpError('upstream_http_error', '');
    else {
      life.succeeded();
      rec.units = mediaUnits(rec.api, rec.requestBody, '');
    }
  } else {
    rec.responseBody = chunks === null ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    const kind = captureKind(rec.api);
    const s = summarizeJsonBody(rec.responseBody, rec.status, kind);
    // Audio and images answers: what they were billed by beyond tokens (seconds, images, …).
    if (kind === 'no_text' && rec.status < 300) rec.units = mediaUnits(rec.api, rec.requestBody, rec.responseBody);
    rec.upstreamModel = s.upstreamModel;
    rec.finishReason = s.finishReason;
    if (s.tokens) rec.tokens = s.tokens;
    if (rec.status >= 400) life.httpError(s.errorType, s.errorMessage);
    else {
      life.succeeded();
      if (!s.tokens && rec.status < 300) estimateFrom = { text: s.outputText, droppedBytes: 0 };
    }
  }
  return applyReported(rec, reported) ? null : estimateFrom;
}

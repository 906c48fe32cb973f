// Per-call state gathered while a call is relayed, and the one function that turns it into
// the core LlmCallEvent. Timings are performance.now() milliseconds relative to arrival.
import { GATELOG_VERSION, capBody, eventSchemaVersion, keepRawRequest, type Attempt, type CallRedaction, type LlmCallEvent, type Outcome, type Privacy, type StoredTexts, type Treatment } from '@gatelog/core';
import { USAGE_INVALID, tokensAreSane, tokensFromBytes } from '@gatelog/core/event-numbers';
import type { RequestMeta } from './request-meta.ts';
import { attemptIoOf, requestUtf8Length } from './attempt-io.ts';
import type { AttemptTap } from './attempt-tap.ts';
import { traceEventFields } from './trace-context.ts';
import type { Tokens } from './usage.ts';
import { callCost, costDetail, type CostFn } from './cost.ts';
import type { UpstreamApi } from '../providers/types.ts';
import { unitColumns } from './media-units.ts';
import type { Units } from '@gatelog/core';

export interface CallRecord {
  requestId: string;
  /** Epoch ms at arrival (started_at). */
  wallStart: number;
  /** performance.now() at arrival. */
  t0: number;
  /** performance.now() when the upstream request was dispatched. */
  tDispatch: number;
  /** performance.now() of the first response byte written to the client (0: none). */
  tFirstByte: number;
  /** performance.now() when the upstream finished (or failed, or was aborted). */
  tUpstreamEnd: number;
  /** Routing: performance.now() when the last attempt was dispatched (default tDispatch). */
  tAttempt?: number;
  /** Routing: failed attempts before the last one (retries, fallbacks), in order. */
  priorAttempts?: Attempt[];
  /** Every attempt's wire record (what went upstream, what came back), in order (attempt_io). */
  attemptTaps?: AttemptTap[];
  /** Routing: when each attempt was dispatched, ms after arrival (waits between retries show as gaps). */
  attemptStarts?: number[];
  /** POST /admin/replay: the request id this call replays. */
  replayOf?: string | undefined;
  meta: RequestMeta;
  endpoint: string;
  api: UpstreamApi;
  /** The API the upstream spoke when an adapter translated (default: `api`). */
  upstreamApi?: string;
  requestedModel: string;
  provider: string;
  priceProviderId: string | undefined;
  deploymentModel: string;
  upstreamModel: string;
  stream: boolean;
  status: number;
  outcome: Outcome;
  errorType: string;
  errorMessage: string;
  /** attempts[0].error_class: '' on success. */
  errorClass: string;
  finishReason: string;
  tokens: Tokens;
  /** Audio and images calls: what they were billed by beyond tokens (media-units.ts). */
  units?: Units | undefined;
  requestBody: string;
  /** The client's bytes requestBody was decoded from, when it was (encodeEvent copies them: core keepRawRequest). */
  requestBytes?: Buffer | undefined;
  /** requestBody in pieces, when it was decoded so (core/src/json/pieces.ts): read piece by piece, it is never made one string. */
  requestPieces?: readonly string[] | undefined;
  responseBody: string;
  /** The stream's kept text hit its budget (text-budget.ts): the stored response is cut. */
  responseCut?: boolean | undefined;
  /** Governance: the virtual key that called, if any. */
  caller?: { keyId: string; keyName: string; team: string } | undefined;
  /** Served from the response cache; `cacheSavedUsd` is what the original call cost. */
  cacheHit?: boolean | undefined;
  cacheSavedUsd?: number | undefined;
  /**
   * Called with the built event right before it is published (null if building failed):
   * governance settles budget/limit reservations and fills the cache here.
   */
  onEvent?: ((e: LlmCallEvent | null) => void) | undefined;
  /** Redaction: what the `x-gatelog-redact` header asked for, and the call's placeholders (shared by forward and stored texts). */
  redactRequested?: Treatment | null | undefined;
  redaction?: CallRedaction | undefined;
}

export interface EventEnv {
  bodyCap: number;
  cost: CostFn;
  /** Redaction before anything is written (absent: bodies stored as sent). */
  privacy?: Privacy | undefined;
}

/** How this call's bodies are treated: by alias, key and the request's header. */
export function treatmentFor(r: CallRecord, privacy: Privacy): Treatment {
  return privacy.treatment({ alias: r.requestedModel, keyId: r.caller?.keyId ?? '', keyName: r.caller?.keyName ?? '', requested: r.redactRequested ?? null });
}

/** The texts this call's event may carry, after redaction. */
function storedTexts(r: CallRecord, env: EventEnv): StoredTexts {
  const texts = { request: r.requestBody, response: r.responseBody, error: r.errorMessage };
  if (!env.privacy) return { ...texts, counts: {} };
  r.redaction ??= env.privacy.call();
  return env.privacy.stored(treatmentFor(r, env.privacy), r.redaction, { ...texts, requestPieces: r.requestPieces }, env.bodyCap);
}

const MAX_ERROR_MESSAGE = 2048;
/**
 * requested_model keeps at most this many characters (and a `…`): the client's name is
 * arbitrary input, and routing answers 404 for any name longer than this anyway.
 */
export const MAX_REQUESTED_MODEL = 256;
export const cappedModel = (m: string): string => (m.length > MAX_REQUESTED_MODEL ? `${m.slice(0, MAX_REQUESTED_MODEL)}…` : m);

export function toEvent(r: CallRecord, env: EventEnv, tEnd: number): LlmCallEvent {
  // Usage gatelog cannot use (1e308, negative, NaN) counts as missing: estimated from the body
  // sizes and flagged, so the call is stored like any other (core/src/event-numbers.ts).
  if (!tokensAreSane(r.tokens)) {
    r.tokens = tokensFromBytes(Buffer.byteLength(r.requestBody), Buffer.byteLength(r.responseBody));
    if (!r.errorType) {
      r.errorType = USAGE_INVALID;
      r.errorMessage ||= 'the upstream reported token usage that is not a count from 0 to 100,000,000; tokens estimated from the body sizes';
    }
  }
  const s = storedTexts(r, env);
  const clientLength = requestUtf8Length(r);
  // The stored request's UTF-8 where it is had without encoding it as one string: the client's
  // own bytes, or a redacted body read in pieces encoded a piece at a time.
  const storedBytes = s.request === r.requestBody ? r.requestBytes : s.requestPieces ? Buffer.concat(s.requestPieces.map((p) => Buffer.from(p))) : undefined;
  const req = capBody(s.request, env.bodyCap, s.request === r.requestBody ? clientLength : storedBytes?.length);
  const res = capBody(s.response, env.bodyCap);
  // Sizes and the truncated flag describe the call's bodies, whatever redaction stored of them.
  const reqBytes = s.request === r.requestBody ? req.bytes : (clientLength ?? Buffer.byteLength(r.requestBody));
  const resBytes = s.response === r.responseBody ? res.bytes : Buffer.byteLength(r.responseBody);
  const upstreamEnd = r.tUpstreamEnd || tEnd;
  const overhead = Math.max(0, r.tDispatch - r.t0) + Math.max(0, tEnd - upstreamEnd);
  const model = r.deploymentModel;
  const cost = callCost(env.cost, {
    api: r.api, outcome: r.outcome, cacheHit: r.cacheHit === true, provider: r.provider, providerId: r.priceProviderId,
    deploymentModel: model, upstreamModel: r.upstreamModel, tokens: r.tokens, units: r.units,
  });
  const attemptIo = r.attemptTaps ? attemptIoOf(r, env, env.privacy ? treatmentFor(r, env.privacy) : null, req.truncated ? undefined : req.text) : undefined;
  const e: LlmCallEvent = {
    schema_version: eventSchemaVersion(attemptIo),
    gatelog_version: GATELOG_VERSION,
    request_id: r.requestId,
    started_at: new Date(r.wallStart).toISOString(),
    trace_id: r.meta.trace_id,
    session_id: r.meta.session_id,
    user: r.meta.user,
    tags: r.meta.tags,
    key_id: r.caller?.keyId ?? '',
    key_name: r.caller?.keyName ?? '',
    team: r.caller?.team ?? '',
    endpoint: r.endpoint,
    client_api: r.api,
    upstream_api: r.upstreamApi ?? r.api,
    requested_model: cappedModel(r.requestedModel),
    provider: r.provider,
    deployment_model: model,
    upstream_model: r.upstreamModel,
    stream: r.stream,
    status: r.status,
    outcome: r.outcome,
    error_type: r.errorType,
    error_message: s.error.length > MAX_ERROR_MESSAGE ? s.error.slice(0, MAX_ERROR_MESSAGE) : s.error,
    finish_reason: r.finishReason,
    input_tokens: r.tokens.input_tokens,
    output_tokens: r.tokens.output_tokens,
    cached_tokens: r.tokens.cached_tokens,
    cache_creation_tokens: r.tokens.cache_creation_tokens,
    reasoning_tokens: r.tokens.reasoning_tokens,
    tokens_estimated: r.tokens.tokens_estimated,
    // A refused call or a cache hit cost nothing (not "unknown").
    cost_usd: cost,
    ...costDetail(r.tokens, env.cost),
    ...(r.units ? unitColumns(r.units) : undefined),
    cache_hit: r.cacheHit ?? false,
    cache_saved_usd: r.cacheSavedUsd ?? 0,
    ttft_ms: r.tFirstByte > 0 ? round3(r.tFirstByte - r.t0) : null,
    latency_ms: round3(tEnd - r.t0),
    overhead_ms: round3(overhead),
    attempts: withPrior(r.priorAttempts, {
      provider: r.provider,
      model,
      status: r.status,
      error_class: r.errorClass,
      latency_ms: round3(Math.max(0, upstreamEnd - (r.tAttempt || r.tDispatch))),
    }),
    request_body: req.text,
    response_body: res.text,
    request_bytes: reqBytes,
    response_bytes: resBytes,
    truncated: r.responseCut === true || req.truncated || res.truncated || (s.request !== '' && reqBytes > env.bodyCap) || (s.response !== '' && resBytes > env.bodyCap),
    ...(Object.keys(s.counts).length > 0 ? { redactions: { ...s.counts } } : {}),
    ...(attemptIo ? { attempt_io: attemptIo } : {}),
    ...traceEventFields(r.meta.w3c),
    ...(r.replayOf ? { replay_of: r.replayOf } : {}),
    ...(r.attemptStarts?.length ? { attempt_starts: r.attemptStarts.map(round3) } : {}),
  };
  if (storedBytes && !req.truncated) keepRawRequest(e, s.request, storedBytes);
  return e;
}

const withPrior = (prior: Attempt[] | undefined, last: Attempt): Attempt[] => (prior && prior.length > 0 ? [...prior, last] : [last]);

const round3 = (ms: number): number => Math.round(Math.max(0, ms) * 1000) / 1000;

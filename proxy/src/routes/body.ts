// Request-body helpers shared by the surfaces: one parse of the raw bytes, and the per-call
// record every call starts from (relayed, refused by governance, or answered with an error).
import type { FastifyRequest } from 'fastify';
import { parseRedactHeader, RAW_REQUEST_MIN_BYTES, REDACT_HEADER, treatmentOf, stricter, type Treatment } from '@gatelog/core';
import { badRequest } from '../errors.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.ts';
import { readRequestMeta } from '../capture/request-meta.ts';
import { NO_TOKENS } from '../capture/usage.ts';
import { stateOf } from '../request-state.ts';
import { cappedModel, treatmentFor, type CallRecord, type EventEnv } from '../capture/call-record.ts';
import type { UpstreamApi } from '../providers/types.ts';
import type { Deployment } from '../routing/resolve.ts';
import { replayMark } from '../replay-mark.ts';
import { withTopLevel, withTopLevelBoth } from '@gatelog/core/json/top-level';
import { parseJsonPieces } from '@gatelog/core/json/pieces';

export function parseJsonBody(raw: unknown): { text: string; json: Record<string, unknown>; bytes: Buffer; pieces?: readonly string[] } {
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw badRequest('invalid_json', 'Request body is empty; expected a JSON object.');
  // A long body in pieces (core/src/json/pieces.ts); one that is not valid UTF-8 is decoded whole,
  // with U+FFFD where its bytes are not, as it always was.
  const inPieces = parseJsonPieces(raw);
  const text = inPieces ? inPieces.text : raw.toString('utf8');
  let json: unknown = inPieces?.json;
  if (json === undefined) {
    try {
      json = JSON.parse(text);
    } catch {
      throw badRequest('invalid_json', 'Request body is not valid JSON.');
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw badRequest('invalid_body', 'Request body must be a JSON object.');
  if (nestsDeeperThan(json)) throw badRequest('json_too_deep', `Request body nests JSON deeper than ${MAX_JSON_DEPTH} levels.`);
  return { text, json: json as Record<string, unknown>, bytes: raw, ...(inPieces ? { pieces: inPieces.pieces } : {}) };
}

export function requireModel(json: Record<string, unknown>): string {
  const model = json['model'];
  if (typeof model !== 'string' || model.length === 0) throw badRequest('missing_model', 'You must provide a model parameter.', 'model');
  return model;
}

/**
 * A body for the provider made of the client's: `body` is `raw` itself (`set` {}), the client's
 * text with the top-level fields of `set` (withTopLevel), or — where that gives up — `json`
 * re-serialised (`set` absent).
 */
export interface RoutedBody {
  body: Buffer | string;
  set?: Readonly<Record<string, string>> | undefined;
  /** A string `body`'s UTF-8, spliced from the client's bytes (sent as they are: AttemptTap.derivedBytes). */
  bytes?: Buffer | undefined;
}

/** `raw` with top-level fields set (JSON texts by name; `json` already holds their values). */
export function routedBody(raw: Buffer, text: string, json: Record<string, unknown>, set: Readonly<Record<string, string>>, pieces?: readonly string[]): RoutedBody {
  if (Object.keys(set).length === 0) return { body: raw, set };
  // A short body is encoded when sent for less than splicing its bytes costs (~0.5 µs).
  if (raw.length < RAW_REQUEST_MIN_BYTES) {
    const body = withTopLevel(text, set);
    return body === null ? { body: JSON.stringify(json) } : { body, set };
  }
  const both = withTopLevelBoth(text, raw, set, pieces);
  return both === null ? { body: JSON.stringify(json) } : { body: both.text, set, bytes: both.bytes };
}

/**
 * The body to send: the client's exact bytes, unless the alias names another upstream model —
 * then their text (`text`, what `json` was parsed from) with the model replaced.
 */
export function upstreamBodyFor(raw: Buffer, text: string, json: Record<string, unknown>, requested: string, dep: Deployment, pieces?: readonly string[]): RoutedBody {
  if (dep.model === requested) return { body: raw, set: {} };
  json['model'] = dep.model;
  return routedBody(raw, text, json, { model: JSON.stringify(dep.model) }, pieces);
}

/**
 * Helicone's `Helicone-Omit-Request: true` / `Helicone-Omit-Response: true`: an app moving over
 * asked for a body to stay out of the record. Read as metadata_only — both bodies, the stricter
 * reading (a response quotes its prompt often enough).
 */
function heliconeOmits(h: FastifyRequest['headers']): boolean {
  const yes = (v: string | string[] | undefined): boolean => typeof v === 'string' && v.trim().toLowerCase() === 'true';
  return yes(h['helicone-omit-request']) || yes(h['helicone-omit-response']);
}

/** The header's treatment; a malformed one (answered 400 by the surface) is treated as strictly as possible. */
export function requestedTreatment(req: FastifyRequest): Treatment | null {
  let t: Treatment | null;
  try {
    t = parseRedactHeader(req.headers[REDACT_HEADER]);
  } catch {
    return stricter(treatmentOf('forward'), treatmentOf('metadata_only'));
  }
  if (!heliconeOmits(req.headers)) return t;
  return t ? stricter(t, treatmentOf('metadata_only')) : treatmentOf('metadata_only');
}

/**
 * `forward` redaction: the provider gets the redacted body, with the placeholders the stored
 * copy will carry. Only string contents change, so the JSON stays valid. `body`: the client's
 * bytes, or their text with top-level fields set by routing (upstreamBodyFor, core/src/json/top-level.ts);
 * `derived` (dispatch.ts) says the result is still that: redaction changed nothing.
 */
export function forwardBody(env: EventEnv, rec: CallRecord, routed: RoutedBody, json: Record<string, unknown>): RoutedBody & { json: Record<string, unknown>; derived: boolean } {
  const { body, set, bytes } = routed;
  if (!env.privacy || !treatmentFor(rec, env.privacy).forward) return { body, json, derived: true, set, bytes };
  rec.redaction ??= env.privacy.call();
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const red = rec.redaction.redact(text);
  return red === text ? { body, json, derived: true, set, bytes } : { body: red, json: JSON.parse(red) as Record<string, unknown>, derived: false };
}

/** `dep`: null for a call answered before any deployment was chosen (provider and model empty). */
/** `bytes`: what `text` was decoded from (parseJsonBody), when it was; `pieces`: `text` in pieces, when it was decoded so. */
export function newCallRecord(
  req: FastifyRequest,
  o: { endpoint: string; api: UpstreamApi; requested: string; dep: Deployment | null; stream: boolean; text: string; json?: Record<string, unknown>; bytes?: Buffer; pieces?: readonly string[] | undefined },
): CallRecord {
  const st = stateOf(req);
  const replay = replayMark.read(req.headers);
  return {
    requestId: st.id,
    wallStart: st.wall,
    t0: st.t0,
    tDispatch: 0,
    tFirstByte: 0,
    tUpstreamEnd: 0,
    // The parsed body where a coding agent names its session in it (Claude Code's metadata.user_id).
    meta: readRequestMeta(req.headers, o.json),
    endpoint: o.endpoint,
    api: o.api,
    // Capped here, not only in the event: policy and cache lookups by alias never hash a megabyte.
    requestedModel: cappedModel(o.requested),
    provider: o.dep ? o.dep.provider.name : '',
    priceProviderId: o.dep?.provider.priceProviderId,
    deploymentModel: o.dep ? o.dep.model : '',
    upstreamModel: '',
    stream: o.stream,
    status: 0,
    outcome: 'success',
    errorType: '',
    errorMessage: '',
    errorClass: '',
    finishReason: '',
    tokens: NO_TOKENS,
    requestBody: o.text,
    requestBytes: o.bytes,
    requestPieces: o.pieces,
    responseBody: '',
    redactRequested: requestedTreatment(req),
    // A replay (POST /admin/replay, made with the master key) belongs to the original's team.
    replayOf: replay?.requestId,
    ...(replay?.team ? { caller: { keyId: '', keyName: '', team: replay.team } } : {}),
  };
}

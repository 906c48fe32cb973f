// The LLM call event: what the proxy publishes and ingest stores, one per client call.
// Field names are the ClickHouse column names of `llm_calls`, so a serialized event is a
// JSONEachRow row as-is: bytes flow proxy → bus → ClickHouse without re-encoding.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { quotedPieces } from './json/literal.ts';

/**
 * The newest event shape this build reads and writes. 2: an attempt's upstream request may be
 * carried as `request_set` (AttemptIo). The proxy stamps an event with the lowest version that
 * reads it (eventSchemaVersion), so an ingest of version 1 still takes every event without
 * request_set, and sets aside (dead-letters, replayably) the ones it would store without their
 * upstream request.
 */
export const EVENT_SCHEMA_VERSION = 2;
/**
 * An attempt's upstream request travels as `request_set` only when the call's request_body is
 * at least this long: ingest parses events that long anyway (body blocks), and below it the
 * second copy costs less than a parse.
 */
export const REQUEST_SET_MIN_BYTES = 32 * 1024;
/** AttemptIo.request_set's bounds: a field's name and its JSON text. */
export const REQUEST_SET_MAX_NAME = 256;
export const REQUEST_SET_MAX_VALUE = 65_536;

/** The version an event needs (EVENT_SCHEMA_VERSION): 2 with a request_set, 1 otherwise. */
export function eventSchemaVersion(attemptIo: readonly { request_set?: unknown }[] | undefined): number {
  return attemptIo?.some((a) => a.request_set !== undefined) ? 2 : 1;
}

export const ApiKind = z.enum([
  'openai.chat',
  'openai.completions',
  'openai.embeddings',
  /** POST /v1/images/generations (DALL·E, gpt-image-1). */
  'openai.images',
  /** POST /v1/images/edits and /v1/images/variations (multipart uploads). */
  'openai.images.edits',
  'openai.images.variations',
  'openai.moderations',
  /** POST /v1/audio/transcriptions and /v1/audio/translations (multipart), /v1/audio/speech. */
  'openai.audio.transcriptions',
  'openai.audio.translations',
  'openai.audio.speech',
  'openai.responses',
  'openai.models',
  'anthropic.messages',
  'anthropic.count_tokens',
]);
export type ApiKind = z.infer<typeof ApiKind>;

export const Outcome = z.enum(['success', 'error', 'client_aborted', 'partial', 'refused']);
export type Outcome = z.infer<typeof Outcome>;

/** One try against one deployment; a call has one or more (retries, fallbacks). */
export const Attempt = z.object({
  provider: z.string(),
  model: z.string(),
  status: z.number().int().min(0).max(999),
  error_class: z.string(),
  latency_ms: z.number().nonnegative(),
});
export type Attempt = z.infer<typeof Attempt>;

/**
 * What one attempt sent upstream and received, exactly (migration 0013): one per `attempts`
 * element, same order. Bodies are redacted and capped like the call's; `*_same` means the bytes
 * equal the call's own request/response body, which is then not stored twice ('' here).
 * sha256 (hex) and byte counts are of the bytes actually sent/received, before redaction.
 */
export const AttemptIo = z.object({
  provider_request_id: z.string(),
  request_same: z.boolean(),
  request_body: z.string(),
  /** Pieces of request_body moved to llm_blocks by ingest; [] from the proxy. */
  request_parts: z.array(z.object({ at: z.number().int().nonnegative(), hash: z.string() })),
  request_bytes: z.number().int().nonnegative(),
  request_sha256: z.string(),
  response_same: z.boolean(),
  response_body: z.string(),
  response_bytes: z.number().int().nonnegative(),
  response_sha256: z.string(),
  truncated: z.boolean(),
  /**
   * The upstream request as the top-level fields routing set over the call's own request_body
   * (an alias's model, the stream_options a stream's usage needs), JSON texts by name, in place
   * of request_body (then ''): withTopLevel(request_body, request_set) (core/src/json/top-level.ts)
   * is the request as sent. Only on the bus, and only for a call whose request_body is whole,
   * unredacted and at least REQUEST_SET_MIN_BYTES long; ingest writes the request back before the
   * row is stored, so a long conversation is not encoded, spooled and sent twice per call.
   */
  request_set: z.record(z.string().max(REQUEST_SET_MAX_NAME), z.string().max(REQUEST_SET_MAX_VALUE)).optional(),
});
export type AttemptIo = z.infer<typeof AttemptIo>;

export const LlmCallEvent = z.object({
  schema_version: z.number().int().positive(),
  gatelog_version: z.string(),
  request_id: z.uuid(),
  /** UTC ISO-8601 with milliseconds. */
  started_at: z.iso.datetime({ offset: false, precision: 3 }),
  trace_id: z.string(),
  session_id: z.string(),
  user: z.string(),
  tags: z.record(z.string(), z.string()),
  key_id: z.string(),
  key_name: z.string(),
  team: z.string(),
  endpoint: z.string(),
  client_api: ApiKind,
  upstream_api: z.string(),
  requested_model: z.string(),
  provider: z.string(),
  deployment_model: z.string(),
  upstream_model: z.string(),
  stream: z.boolean(),
  status: z.number().int().min(0).max(999),
  outcome: Outcome,
  error_type: z.string(),
  error_message: z.string(),
  finish_reason: z.string(),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cached_tokens: z.number().int().nonnegative(),
  cache_creation_tokens: z.number().int().nonnegative(),
  reasoning_tokens: z.number().int().nonnegative(),
  tokens_estimated: z.boolean(),
  /** USD; null when no price is known (never a fake 0). */
  cost_usd: z.number().nonnegative().nullable(),
  /** Token kinds priced at their own rates (migration 0015); absent = 0. Parts of the totals above. */
  cache_write_5m_tokens: z.number().int().nonnegative().optional(),
  cache_write_1h_tokens: z.number().int().nonnegative().optional(),
  input_audio_tokens: z.number().int().nonnegative().optional(),
  output_audio_tokens: z.number().int().nonnegative().optional(),
  /**
   * What an audio or images call was billed by beyond text tokens (migration 0030); absent = 0 / ''.
   * input_image_tokens is a part of input_tokens.
   */
  input_image_tokens: z.number().int().nonnegative().optional(),
  audio_seconds: z.number().nonnegative().optional(),
  input_characters: z.number().int().nonnegative().optional(),
  images: z.number().int().nonnegative().optional(),
  image_size: z.string().max(64).optional(),
  image_quality: z.string().max(64).optional(),
  /** The price table cost_usd came from (core/src/pricing.ts priceVersion); absent = ''. */
  price_version: z.string().max(128).optional(),
  cache_hit: z.boolean(),
  /** USD a cache hit saved (the original call's cost); absent or 0 otherwise (migration 0004). */
  cache_saved_usd: z.number().nonnegative().optional(),
  ttft_ms: z.number().nonnegative().nullable(),
  latency_ms: z.number().nonnegative(),
  overhead_ms: z.number().nonnegative(),
  attempts: z.array(Attempt),
  request_body: z.string(),
  response_body: z.string(),
  request_bytes: z.number().int().nonnegative(),
  response_bytes: z.number().int().nonnegative(),
  truncated: z.boolean(),
  /** What redaction replaced, occurrences by placeholder type (`EMAIL`: 2); absent = nothing (migration 0011). */
  redactions: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** The request id this call replays (POST /admin/replay); absent or '' = a client's own call (migration 0020). */
  replay_of: z.string().max(64).optional(),
  /** When each attempt was dispatched, ms after arrival, one per `attempts` element (migration 0020). */
  attempt_starts: z.array(z.number().nonnegative()).optional(),
  /** Per attempt, what went upstream and came back (migration 0013); absent = not recorded. */
  attempt_io: z.array(AttemptIo).optional(),
  /** W3C trace context the caller sent (migration 0019); absent without a valid traceparent. */
  parent_trace_id: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  parent_span_id: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  trace_flags: z.number().int().min(0).max(255).optional(),
  trace_state: z.string().max(512).optional(),
});
export type LlmCallEvent = z.infer<typeof LlmCallEvent>;

/**
 * Cut a body to `cap` bytes (UTF-8 safe), reporting whether anything was cut. `utf8Length`: the
 * body's UTF-8 length where the caller knows it (counting it reads a long text as one string).
 */
export function capBody(body: string, cap: number, utf8Length?: number): { text: string; bytes: number; truncated: boolean } {
  const bytes = utf8Length ?? Buffer.byteLength(body);
  if (bytes <= cap) return { text: body, bytes, truncated: false };
  const buf = Buffer.from(body).subarray(0, cap);
  // Drop a trailing partial UTF-8 sequence instead of emitting U+FFFD.
  let end = buf.length;
  while (end > 0 && ((buf[end - 1] ?? 0) & 0xc0) === 0x80) end--;
  if (end > 0 && ((buf[end - 1] ?? 0) & 0x80) !== 0) end--;
  return { text: buf.subarray(0, end).toString('utf8'), bytes, truncated: true };
}

const RAW_REQUEST = Symbol('gatelog.rawRequest');
interface RawText {
  text: string;
  bytes: Buffer;
}
/** Bodies shorter than this are encoded as text: copying bytes in saves less than the splice costs. */
export const RAW_REQUEST_MIN_BYTES = 4096;
/** Stands for request_body while the rest of the event is serialised: no text holds it unless it knows this process's nonce. */
const MARK = `\u0000gatelog-raw-${randomUUID()}\u0000`;
const MARK_JSON = JSON.stringify(MARK);

/**
 * Keep beside `e` the bytes its request_body was decoded from (the client's own: valid UTF-8
 * decoded as is), so encodeEvent copies them into the record instead of serialising the text:
 * V8 writes a long text holding any character beyond Latin-1 (an accent, a ✓, an emoji) into
 * JSON and then UTF-8 at ~8-10 µs per KB, against ~1-2 µs per KB for the bytes. Not enumerable,
 * so a copy of the event (`{ ...e }`) leaves it behind, and encodeEvent uses it only while
 * request_body is still that very text (not redacted, capped or stripped since).
 */
export function keepRawRequest(e: LlmCallEvent, text: string, bytes: Buffer): void {
  if (e.request_body !== text || bytes.length < RAW_REQUEST_MIN_BYTES || !isUtf8(bytes)) return;
  const raw: RawText = { text, bytes };
  Object.defineProperty(e, RAW_REQUEST, { value: raw, enumerable: false, configurable: true });
}

/**
 * Serialize an event as one JSONEachRow line (no trailing newline). With the request's bytes
 * kept (keepRawRequest), the same bytes as without: each byte read as a Latin-1 character is
 * escaped by JSON.stringify exactly as the text's character would be (only `"`, `\` and
 * controls below 0x20 are, all ASCII; UTF-8's other bytes are 0x80 and up and pass as they are),
 * and written back as that byte.
 */
export function encodeEvent(e: LlmCallEvent): Buffer {
  const raw = (e as { [RAW_REQUEST]?: RawText })[RAW_REQUEST];
  if (raw === undefined || e.request_body !== raw.text) return Buffer.from(JSON.stringify(e));
  e.request_body = MARK;
  let json: string;
  try {
    json = JSON.stringify(e);
  } finally {
    e.request_body = raw.text;
  }
  const at = json.indexOf(MARK_JSON);
  if (at < 0) return Buffer.from(JSON.stringify(e));
  const quoted = quotedPieces(raw.bytes);
  // Each piece is a whole JSON string literal: one literal of all their insides.
  let length = 2;
  for (const q of quoted) length += q.length - 2;
  const head = Buffer.byteLength(json.slice(0, at));
  const tail = json.slice(at + MARK_JSON.length);
  const out = Buffer.allocUnsafe(head + length + Buffer.byteLength(tail));
  out.write(json, 0, head);
  let o = head;
  out[o++] = 0x22;
  for (const q of quoted) o += out.write(q.slice(1, -1), o, 'latin1');
  out[o++] = 0x22;
  out.write(tail, o);
  return out;
}


// Validation of one Kafka message before it may reach ClickHouse: JSON, the core event schema,
// and a schema version this build understands. A failure names a stable code and the first
// few schema issues (paths and messages only: values can hold prompt text). An event that fails
// only for an out-of-range number (a negative token count, a NaN become null) is repaired
// (core/src/event-numbers.ts) rather than dead-lettered: the call stays visible, flagged.
// Most events are accepted by a scan of their bytes (event-scan.ts); it defers everything it is
// not sure of to JSON.parse + zod here, so every code and message below is as it was.
import { EVENT_SCHEMA_VERSION, LlmCallEvent, REQUEST_SET_MIN_BYTES } from '@gatelog/core';
import { sanitizeEventNumbers } from '@gatelog/core/event-numbers';
import type { IHeaders } from 'kafkajs';
import { scanEvent } from './event-scan.ts';

export const SCHEMA_VERSION_HEADER = 'gatelog-schema-version';

/** `repaired`: the record to store instead of the message's value, when numbers were brought within bounds. */
export type Validation = { ok: true; repaired?: Buffer } | { ok: false; reason: { code: string; message: string } };

const OK: Validation = Object.freeze({ ok: true });

function headerValue(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

export function validateMessage(value: Buffer | null, headers?: IHeaders): Validation {
  if (!value || value.length === 0) return { ok: false, reason: { code: 'GATELOG_DLQ_EMPTY', message: 'message has no value' } };
  const version = headerValue(headers, SCHEMA_VERSION_HEADER);
  if (version !== undefined && Number(version) > EVENT_SCHEMA_VERSION) {
    return { ok: false, reason: { code: 'GATELOG_DLQ_SCHEMA_VERSION', message: `schema version ${version} is newer than this ingest (${EVENT_SCHEMA_VERSION})` } };
  }
  // The common case, decided without building the event; anything else takes the full check.
  return scanEvent(value) ? OK : checkEvent(value);
}

/**
 * An attempt's request carried as request_set in an event under REQUEST_SET_MIN_BYTES: ingest
 * writes such requests back only in events that long (body-blocks.ts), so it would be stored
 * without its upstream request. The proxy never writes one.
 */
function requestSetMisplaced(e: LlmCallEvent, value: Buffer): Validation | null {
  if (value.length >= REQUEST_SET_MIN_BYTES || !e.attempt_io?.some((a) => a.request_set !== undefined)) return null;
  return { ok: false, reason: { code: 'GATELOG_DLQ_INVALID_EVENT', message: `attempt_io.request_set: only in events of ${REQUEST_SET_MIN_BYTES} bytes or more (carry a shorter request as request_body)` } };
}

/** The full check of a non-empty value: JSON.parse, the core schema, the repair of out-of-range numbers. */
export function checkEvent(value: Buffer): Validation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: { code: 'GATELOG_DLQ_INVALID_JSON', message: (err as Error).message.slice(0, 200) } };
  }
  const r = LlmCallEvent.safeParse(parsed);
  if (r.success) return requestSetMisplaced(r.data, value) ?? { ok: true };
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && sanitizeEventNumbers(parsed as Record<string, unknown>)) {
    const again = LlmCallEvent.safeParse(parsed);
    if (again.success) return requestSetMisplaced(again.data, value) ?? { ok: true, repaired: Buffer.from(JSON.stringify(parsed), 'utf8') };
  }
  const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return { ok: false, reason: { code: 'GATELOG_DLQ_INVALID_EVENT', message: issues.join('; ') } };
}

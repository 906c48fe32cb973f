// An event without its bodies: what the spool records once it is full, and what the relay sends
// in place of an event Kafka refuses as too large. Type imports only, so the relay thread does
// not load core's modules for it.
import type { LlmCallEvent } from '@gatelog/core';

/** The event without request and response bodies (its attempts' too), flagged `truncated`. */
export function stripBodies(event: LlmCallEvent): LlmCallEvent {
  const stripped: LlmCallEvent = { ...event, request_body: '', response_body: '', truncated: true };
  if (event.attempt_io) {
    // Without its bodies an attempt has no request to write back: nothing needs version 2 (event.ts).
    stripped.attempt_io = event.attempt_io.map(({ request_set: _, ...a }) => ({ ...a, request_body: '', request_parts: [], response_body: '', truncated: true }));
    if (event.attempt_io.some((a) => a.request_set !== undefined)) stripped.schema_version = 1;
  }
  return stripped;
}

/** A spool record (an encoded event) re-encoded without its bodies, as encodeEvent writes it. */
export function stripRecord(record: Buffer): Buffer {
  return Buffer.from(JSON.stringify(stripBodies(JSON.parse(record.toString('utf8')) as LlmCallEvent)));
}

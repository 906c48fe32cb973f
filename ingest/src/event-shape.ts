// What the event scan (event-scan.ts) checks an event against: the core schema
// (core/src/event.ts `LlmCallEvent`, `Attempt`, `AttemptIo`) as shapes of fields, each field's
// kind read from its zod schema where the schema constrains its content, and checked against the
// schema at load so the two cannot drift apart silently.
import { Attempt, AttemptIo, LlmCallEvent } from '@gatelog/core';
import type { ZodType } from 'zod';

export type Kind =
  | { k: 'str' }
  /** A string the field's zod schema checks (decoded only when it has no escapes). */
  | { k: 'checked'; test: (text: string) => boolean }
  | { k: 'bool' }
  /** A non-negative integer within [min, max], written as plain digits. */
  | { k: 'int'; min: number; max: number }
  /** A finite non-negative number (optionally null). */
  | { k: 'num'; nullable: boolean }
  | { k: 'record'; of: 'str' | 'int' }
  | { k: 'array'; of: Kind }
  | { k: 'obj'; shape: Shape };

export interface Field {
  name: Uint8Array;
  /** `"name":`, as the proxy writes the key. */
  quoted: Uint8Array;
  kind: Kind;
  /** Position in its shape; the bit of the field in seen-mask `pos >> 5`. */
  pos: number;
  bit: number;
}

export interface Shape {
  fields: Field[];
  /** Fields by key length. */
  byLength: Map<number, Field[]>;
  /** Required fields' bits, 32 fields per mask. */
  required: [number, number];
}

const INT_MAX = Number.MAX_SAFE_INTEGER;
export const STR: Kind = { k: 'str' };
const BOOL: Kind = { k: 'bool' };
const NUM: Kind = { k: 'num', nullable: false };
const NUM_NULL: Kind = { k: 'num', nullable: true };
export const COUNT: Kind = { k: 'int', min: 0, max: INT_MAX };
const STATUS: Kind = { k: 'int', min: 0, max: 999 };

function shape(spec: [name: string, kind: Kind, required: boolean][]): Shape {
  if (spec.length > 64) throw new Error('event-scan: an object of more than 64 fields needs more seen-masks');
  const byLength = new Map<number, Field[]>();
  const required: [number, number] = [0, 0];
  const fields = spec.map(([name, kind, req], pos): Field => {
    const f = { name: Buffer.from(name, 'latin1'), quoted: Buffer.from(`"${name}":`, 'latin1'), kind, pos, bit: 1 << (pos & 31) };
    if (req) required[pos >> 5 ? 1 : 0] |= f.bit;
    byLength.set(name.length, [...(byLength.get(name.length) ?? []), f]);
    return f;
  });
  return { fields, byLength, required };
}

interface ZodDef {
  type: string;
  innerType?: { _zod: { def: ZodDef } };
  entries?: Record<string, unknown>;
  format?: string;
  pattern?: RegExp;
  checks?: { _zod: { def: { check: string; format?: string; pattern?: RegExp; maximum?: number } } }[];
}

/** String formats whose zod check is exactly a test of their pattern. */
const PATTERN_FORMATS = new Set(['uuid', 'datetime', 'regex']);
const patternTest = (format: string | undefined, re: RegExp | undefined): ((text: string) => boolean) | null =>
  format !== undefined && PATTERN_FORMATS.has(format) && re && !re.global && !re.sticky ? (text) => re.test(text) : null;

/**
 * The test a string field's zod schema applies, without zod's per-call machinery (which, in a
 * process with many schemas, costs more than the scan itself): an enum's values, a format's
 * pattern, pattern and max-length checks. Any other schema is asked through safeParse.
 */
function checked(schema: ZodType): Kind {
  let def = (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
  if (def.type === 'optional' && def.innerType) def = def.innerType._zod.def;
  const slow = (text: string): boolean => schema.safeParse(text).success;
  if (def.type === 'enum' && def.entries && Object.values(def.entries).every((v) => typeof v === 'string')) {
    const values = new Set(Object.values(def.entries) as string[]);
    return { k: 'checked', test: (text) => values.has(text) };
  }
  if (def.type !== 'string') return { k: 'checked', test: slow };
  const tests: ((text: string) => boolean)[] = [];
  if (def.format !== undefined) {
    const t = patternTest(def.format, def.pattern);
    if (!t) return { k: 'checked', test: slow };
    tests.push(t);
  }
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    const t = d.check === 'string_format' ? patternTest(d.format, d.pattern) : null;
    if (t) tests.push(t);
    else if (d.check === 'max_length' && d.maximum !== undefined) {
      const max = d.maximum;
      tests.push((text) => text.length <= max);
    } else return { k: 'checked', test: slow };
  }
  if (tests.length === 0) return { k: 'checked', test: slow };
  return { k: 'checked', test: tests.length === 1 ? tests[0]! : (text) => tests.every((t) => t(text)) };
}
const ev = LlmCallEvent.shape;

const ATTEMPT = shape([
  ['provider', STR, true],
  ['model', STR, true],
  ['status', STATUS, true],
  ['error_class', STR, true],
  ['latency_ms', NUM, true],
]);
const ATTEMPT_IO = shape([
  ['provider_request_id', STR, true],
  ['request_same', BOOL, true],
  ['request_body', STR, true],
  ['request_parts', { k: 'array', of: { k: 'obj', shape: shape([['at', COUNT, true], ['hash', STR, true]]) } }, true],
  ['request_bytes', COUNT, true],
  ['request_sha256', STR, true],
  ['response_same', BOOL, true],
  ['response_body', STR, true],
  ['response_bytes', COUNT, true],
  ['response_sha256', STR, true],
  ['truncated', BOOL, true],
]);

/** The event's top level, in the order the proxy writes it (each lookup tries the next one first). */
const EVENT_FIELDS: [string, Kind, boolean][] = [
  ['schema_version', { k: 'int', min: 1, max: INT_MAX }, true],
  ['gatelog_version', STR, true],
  ['request_id', checked(ev.request_id), true],
  ['started_at', checked(ev.started_at), true],
  ['trace_id', STR, true],
  ['session_id', STR, true],
  ['user', STR, true],
  ['tags', { k: 'record', of: 'str' }, true],
  ['key_id', STR, true],
  ['key_name', STR, true],
  ['team', STR, true],
  ['endpoint', STR, true],
  ['client_api', checked(ev.client_api), true],
  ['upstream_api', STR, true],
  ['requested_model', STR, true],
  ['provider', STR, true],
  ['deployment_model', STR, true],
  ['upstream_model', STR, true],
  ['stream', BOOL, true],
  ['status', STATUS, true],
  ['outcome', checked(ev.outcome), true],
  ['error_type', STR, true],
  ['error_message', STR, true],
  ['finish_reason', STR, true],
  ['input_tokens', COUNT, true],
  ['output_tokens', COUNT, true],
  ['cached_tokens', COUNT, true],
  ['cache_creation_tokens', COUNT, true],
  ['reasoning_tokens', COUNT, true],
  ['tokens_estimated', BOOL, true],
  ['cost_usd', NUM_NULL, true],
  ['cache_write_5m_tokens', COUNT, false],
  ['cache_write_1h_tokens', COUNT, false],
  ['input_audio_tokens', COUNT, false],
  ['output_audio_tokens', COUNT, false],
  ['input_image_tokens', COUNT, false],
  ['audio_seconds', NUM, false],
  ['input_characters', COUNT, false],
  ['images', COUNT, false],
  ['image_size', checked(ev.image_size), false],
  ['image_quality', checked(ev.image_quality), false],
  ['price_version', checked(ev.price_version), false],
  ['cache_hit', BOOL, true],
  ['cache_saved_usd', NUM, false],
  ['ttft_ms', NUM_NULL, true],
  ['latency_ms', NUM, true],
  ['overhead_ms', NUM, true],
  ['attempts', { k: 'array', of: { k: 'obj', shape: ATTEMPT } }, true],
  ['request_body', STR, true],
  ['response_body', STR, true],
  ['request_bytes', COUNT, true],
  ['response_bytes', COUNT, true],
  ['truncated', BOOL, true],
  ['redactions', { k: 'record', of: 'int' }, false],
  ['attempt_io', { k: 'array', of: { k: 'obj', shape: ATTEMPT_IO } }, false],
  ['parent_trace_id', checked(ev.parent_trace_id), false],
  ['parent_span_id', checked(ev.parent_span_id), false],
  ['trace_flags', { k: 'int', min: 0, max: 255 }, false],
  ['trace_state', checked(ev.trace_state), false],
  ['replay_of', checked(ev.replay_of), false],
  ['attempt_starts', { k: 'array', of: NUM }, false],
];
export const EVENT = shape(EVENT_FIELDS);

// The scan would silently accept less than the schema when a field is added to it and not
// here: a new field is "unknown" to the scan, so such events take the full path (correct, only
// slower). The opposite drift — a field here the schema no longer has — is caught at load.
for (const [name] of EVENT_FIELDS) if (!(name in ev)) throw new Error(`event-scan: ${name} is not in LlmCallEvent`);
for (const f of ATTEMPT.fields) if (!(Buffer.from(f.name).toString() in Attempt.shape)) throw new Error('event-scan: Attempt drifted');
for (const f of ATTEMPT_IO.fields) if (!(Buffer.from(f.name).toString() in AttemptIo.shape)) throw new Error('event-scan: AttemptIo drifted');

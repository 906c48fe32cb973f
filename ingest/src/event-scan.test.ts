// The byte scan that accepts most events without JSON.parse + zod (event-scan.ts) must never
// accept what the full check refuses, and validateMessage must answer exactly as the full check
// alone did (same ok, same dead-letter code and message, same repaired bytes) on valid events,
// events broken in every field, and damaged bytes at every position. The fast path must also really be
// taken for the events the proxy writes, or the worker silently pays the full check again.
import { ApiKind, EVENT_SCHEMA_VERSION, GATELOG_VERSION, LlmCallEvent, REQUEST_SET_MIN_BYTES, newRequestId } from '@gatelog/core';
import { describe, expect, it } from 'vitest';
import { scanEvent } from './event-scan.ts';
import { checkEvent, validateMessage, type Validation } from './kafka-validate.ts';

/** validateMessage without the scan: JSON.parse + zod on every message, as before it. */
const fullCheck = (value: Buffer): Validation => (value.length === 0 ? validateMessage(value, {}) : checkEvent(value));

/** A call as the proxy writes it, with every optional field. */
function fullEvent(): Record<string, unknown> {
  const request_body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi "there"\n\ttab \\ slash / ünïcødé 🎉 \u2028' }] });
  return {
    schema_version: EVENT_SCHEMA_VERSION, gatelog_version: GATELOG_VERSION, request_id: newRequestId(), started_at: new Date().toISOString(),
    trace_id: 't-1', session_id: 's-1', user: 'ü-user', tags: { env: 'prod', 'odd "key"': 'v\\al', '': '' }, key_id: 'key_1', key_name: 'svc',
    team: 'team-a', endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'anthropic.messages', requested_model: 'gpt-4o',
    provider: 'openai', deployment_model: 'gpt-4o', upstream_model: 'gpt-4o-2024', stream: true, status: 200, outcome: 'success',
    error_type: '', error_message: '', finish_reason: 'stop', input_tokens: 1234, output_tokens: 56, cached_tokens: 0, cache_creation_tokens: 7,
    reasoning_tokens: 0, tokens_estimated: false, cost_usd: 1.2e-7, cache_write_5m_tokens: 3, cache_write_1h_tokens: 4, input_audio_tokens: 0,
    output_audio_tokens: 0, input_image_tokens: 194, audio_seconds: 12.4, input_characters: 1200, images: 2, image_size: '1024x1792', image_quality: 'hd',
    price_version: 'litellm-2026-11', cache_hit: false, cache_saved_usd: 0, ttft_ms: 81.25, latency_ms: 1200.5, overhead_ms: 0.3,
    attempts: [{ provider: 'openai', model: 'gpt-4o', status: 429, error_class: 'rate_limit', latency_ms: 10 }, { provider: 'azure', model: 'gpt-4o', status: 200, error_class: '', latency_ms: 1100 }],
    request_body, response_body: '{"choices":[{"message":{"content":"ok"}}]}', request_bytes: request_body.length, response_bytes: 44, truncated: false,
    redactions: { EMAIL: 2, PHONE: 0 },
    attempt_io: [{
      provider_request_id: 'req_1', request_same: true, request_body: '', request_parts: [{ at: 0, hash: 'abc' }, { at: 17, hash: 'def' }], request_bytes: 10,
      request_sha256: 'a'.repeat(64), response_same: false, response_body: '{"error":{}}', response_bytes: 12, response_sha256: 'b'.repeat(64), truncated: false,
    }],
    parent_trace_id: '0af7651916cd43dd8448eb211c80319c', parent_span_id: 'b7ad6b7169203331', trace_flags: 1, trace_state: 'vendor=1',
    replay_of: newRequestId(), attempt_starts: [0, 12.5],
  };
}

function minimalEvent(): Record<string, unknown> {
  const optional = new Set(['cache_write_5m_tokens', 'cache_write_1h_tokens', 'input_audio_tokens', 'output_audio_tokens', 'input_image_tokens', 'audio_seconds', 'input_characters', 'images', 'image_size', 'image_quality', 'price_version', 'cache_saved_usd', 'redactions', 'attempt_io', 'parent_trace_id', 'parent_span_id', 'trace_flags', 'trace_state', 'replay_of', 'attempt_starts']);
  const e = Object.fromEntries(Object.entries(fullEvent()).filter(([k]) => !optional.has(k)));
  return { ...e, attempts: [], tags: {}, cost_usd: null, ttft_ms: null };
}

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** Wrong or edge values for a field, by what the field holds. */
const ODD_VALUES: unknown[] = [
  null, true, false, 0, -0.0, -1, 1.5, 255, 256, 999, 1000, 2 ** 53, 2 ** 53 + 2, 1e21, 1e-7, '', 'x', '\u0000', 'a"b', '\\', '💥', 'x'.repeat(700),
  [], [1], ['a'], {}, { a: 1 }, { a: 'b' }, { __proto__: null, x: 'y' }, '2026-12-03T01:02:03.456Z', '2026-12-03T01:02:03Z', '00000000-0000-0000-0000-000000000000',
  '0af7651916cd43dd8448eb211c80319c', 'openai.chat', 'error', [{ at: 1, hash: 'h' }], [{ at: -1, hash: 'h' }],
  // Near misses of the checked strings: dates, ids, enums, lengths at their bounds.
  '2026-02-30T01:02:03.456Z', '2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2026-12-03T24:00:00.000Z', '2026-12-03T01:02:03.456+00:00',
  '2026-12-03 01:02:03.456Z', '0190B6F2-7D3A-7C21-9F00-0123456789AB', '0190b6f2-7d3a-9c21-9f00-0123456789ab', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '0AF7651916CD43DD8448EB211C80319C', 'b7ad6b7169203331', 'B7AD6B7169203331', 'Success', 'openai.chat ', 'x'.repeat(64), 'x'.repeat(65),
  'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(512), 'x'.repeat(513), 'é'.repeat(128), 'é'.repeat(129), '🎉'.repeat(64), '🎉'.repeat(65),
];

/** The same value written with whitespace, escapes or number forms the proxy never writes. */
const RAW_FORMS: [string, string][] = [
  ['"status":200', '"status":2e2'],
  ['"status":200', '"status":200.0'],
  ['"status":200', '"status": 200 '],
  ['"status":200', '"status":0200'],
  ['"status":200', '"status":-200'],
  ['"status":200', '"status":1e999'],
  ['"outcome":"success"', '"outcome":"succ\\u0065ss"'],
  ['"outcome":"success"', '"outc\\u006fme":"success"'],
  ['"outcome":"success"', '"outcome":"success","outcome":"error"'],
  ['"outcome":"success"', '"outcome":"error","outcome":"success"'],
  ['"user":"ü-user"', '"user":"\\ud800"'],
  ['"user":"ü-user"', '"user":"\\x41"'],
  ['"user":"ü-user"', '"user":"\\u12"'],
  ['"user":"ü-user"', '"user":"a\nb"'],
  ['"user":"ü-user"', '"user":"a\tb"'],
  ['"user":"ü-user"', '"user":"a\u007fb"'],
  ['"tags":{', '"tags":{"__proto__":"x",'],
  ['"tags":{', '"tags":{"env":"dup",'],
  ['"latency_ms":1200.5', '"latency_ms":1200.'],
  ['"latency_ms":1200.5', '"latency_ms":.5'],
  ['"latency_ms":1200.5', '"latency_ms":1200.5e'],
  ['"latency_ms":1200.5', '"latency_ms":1200.5E+2'],
  ['"latency_ms":1200.5', '"latency_ms":1200.5e-400'],
  ['"latency_ms":1200.5', '"latency_ms":NaN'],
  ['"cost_usd":1.2e-7', '"cost_usd":nul'],
  ['"stream":true', '"stream":tru'],
  ['"stream":true', '"stream":True'],
  ['{"schema_version"', ' \n\t{"schema_version"'],
  ['{"schema_version"', '\ufeff{"schema_version"'],
  ['{"schema_version"', '{"extra":1,"schema_version"'],
];

function expectSameAnswer(value: Buffer): void {
  const full = fullCheck(value);
  if (scanEvent(value)) expect(full, value.toString()).toEqual({ ok: true });
  expect(validateMessage(value, {})).toEqual(full);
}

describe('event scan', () => {
  it('takes the fast path for the events the proxy writes, full and minimal', () => {
    for (const e of [fullEvent(), minimalEvent()]) {
      expect(LlmCallEvent.safeParse(e).success).toBe(true);
      expect(scanEvent(bytes(e))).toBe(true);
      expect(validateMessage(bytes(e), {})).toEqual({ ok: true });
    }
    // Key order does not matter, nor whitespace between tokens.
    const shuffled = Object.fromEntries(Object.entries(fullEvent()).reverse());
    expect(scanEvent(bytes(shuffled))).toBe(true);
    expect(scanEvent(Buffer.from(JSON.stringify(fullEvent(), null, 2)))).toBe(true);
  });

  it('takes the fast path for every api the proxy records, and answers as zod for near misses', () => {
    // The scan reads the enum from core's schema: images and moderations need no copy here.
    for (const api of ['openai.images', 'openai.moderations', ...ApiKind.options]) {
      const e = { ...minimalEvent(), endpoint: '/v1/images/generations', client_api: api, upstream_api: api };
      expect(scanEvent(bytes(e)), api).toBe(true);
      expect(validateMessage(bytes(e), {})).toEqual({ ok: true });
    }
    for (const odd of ['openai.image', 'openai.images.generations', 'openai.moderation', 'Openai.images', 'openai.moderations ']) {
      const v = bytes({ ...minimalEvent(), client_api: odd });
      expect(scanEvent(v), odd).toBe(false);
      expectSameAnswer(v);
    }
  });

  it('answers as JSON.parse + zod for every field set to wrong and edge values', () => {
    for (const base of [fullEvent(), minimalEvent()]) {
      for (const key of [...Object.keys(fullEvent()), 'unknown_field']) {
        for (const v of ODD_VALUES) expectSameAnswer(bytes({ ...base, [key]: v }));
        expectSameAnswer(bytes(Object.fromEntries(Object.entries(base).filter(([k]) => k !== key))));
      }
      for (const nested of ['attempts', 'attempt_io'] as const) {
        const list = (fullEvent()[nested] as Record<string, unknown>[]);
        for (const key of Object.keys(list[0]!)) {
          for (const v of ODD_VALUES) expectSameAnswer(bytes({ ...base, [nested]: [{ ...list[0], [key]: v }] }));
        }
      }
    }
  });

  it('answers as JSON.parse + zod for numbers, escapes and whitespace the proxy never writes', () => {
    const text = JSON.stringify(fullEvent());
    for (const [from, to] of RAW_FORMS) {
      expect(text.includes(from), from).toBe(true);
      expectSameAnswer(Buffer.from(text.replace(from, to)));
    }
  });

  it('answers as JSON.parse + zod for damaged bytes: truncated, cut, inserted, replaced', () => {
    // Every position, each with a structural byte (or another) in turn.
    const specials = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x65, 0x00, 0x0a, 0x20, 0x80, 0xff, 0x41, 0x75, 0x6e];
    for (const base of [bytes(fullEvent()), bytes(minimalEvent())]) {
      expectSameAnswer(Buffer.from(' '));
      for (let at = 0; at < base.length; at++) {
        const byte = specials[at % specials.length]!;
        const damaged = [
          base.subarray(0, at),
          Buffer.concat([base.subarray(0, at), base.subarray(at + 1)]),
          Buffer.concat([base.subarray(0, at), Buffer.from([byte]), base.subarray(at)]),
          Buffer.concat([base.subarray(0, at), Buffer.from([byte]), base.subarray(at + 1)]),
        ];
        for (const d of damaged) expectSameAnswer(d);
      }
    }
  });

  it('checks a record inside a larger buffer by its own bytes only', () => {
    const e = bytes(fullEvent());
    const pooled = Buffer.concat([Buffer.from('{"x":'), e, Buffer.from('}garbage')]);
    expect(scanEvent(pooled.subarray(5, 5 + e.length))).toBe(true);
    expect(scanEvent(pooled.subarray(5, 5 + e.length - 1))).toBe(false);
  });

  it('takes an attempt\'s request as request_set only in events long enough for ingest to write it back', () => {
    const set = { model: '"gpt-4o-mini"', stream_options: '{"include_usage":true}' };
    const withSet = (body: string): Buffer => {
      const e = fullEvent();
      const io = (e['attempt_io'] as Record<string, unknown>[])[0]!;
      return bytes({ ...e, request_body: body, attempt_io: [{ ...io, request_same: false, request_body: '', request_parts: [], request_set: set }] });
    };
    const small = withSet('{"model":"fast","messages":[]}');
    expect(small.length).toBeLessThan(REQUEST_SET_MIN_BYTES);
    const refused = validateMessage(small, {});
    expect(refused).toMatchObject({ ok: false, reason: { code: 'GATELOG_DLQ_INVALID_EVENT', message: expect.stringContaining('attempt_io.request_set') } });
    expectSameAnswer(small);
    const large = withSet(JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'long '.repeat(REQUEST_SET_MIN_BYTES / 4) }] }));
    expect(validateMessage(large, {})).toEqual({ ok: true });
    expectSameAnswer(large);
    // A set that is not texts by name is refused whatever the size.
    const bad = Buffer.from(large.toString().replace('"model":"\\"gpt-4o-mini\\""', '"model":1'));
    expect(validateMessage(bad, {})).toMatchObject({ ok: false, reason: { code: 'GATELOG_DLQ_INVALID_EVENT' } });
  });
});

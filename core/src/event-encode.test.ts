// encodeEvent with the request's bytes kept (keepRawRequest): byte for byte what serialising the
// text writes, for every kind of character a body holds; and the bytes are used only while
// request_body is still the text they were decoded from.
import { describe, expect, it } from 'vitest';
import { EVENT_SCHEMA_VERSION, GATELOG_VERSION, RAW_REQUEST_MIN_BYTES, encodeEvent, keepRawRequest, newRequestId, type LlmCallEvent } from './index.ts';

function event(request_body: string): LlmCallEvent {
  return {
    schema_version: EVENT_SCHEMA_VERSION, gatelog_version: GATELOG_VERSION, request_id: newRequestId(), started_at: new Date().toISOString(),
    trace_id: '', session_id: '', user: 'ü-user', tags: { request_body: '', note: 'ünïcødé 🎉' }, key_id: '', key_name: '', team: '', endpoint: '/v1/chat/completions',
    client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: 'm', provider: 'p', deployment_model: 'm', upstream_model: 'm', stream: false,
    status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop', input_tokens: 1, output_tokens: 1, cached_tokens: 0,
    cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false, cost_usd: 0, cache_hit: false, ttft_ms: null, latency_ms: 1, overhead_ms: 0,
    attempts: [], request_body, response_body: '{"choices":[{"message":{"content":"fine ✓"}}]}', request_bytes: Buffer.byteLength(request_body),
    response_bytes: 40, truncated: false,
    attempt_io: [{ provider_request_id: '', request_same: true, request_body: '', request_parts: [], request_bytes: 0, request_sha256: '', response_same: true, response_body: '', response_bytes: 0, response_sha256: '', truncated: false }],
  };
}

const pieces = ['plain ascii ', 'café ', '✓ ', 'emoji 🎉 ', '中文 ', '\\"quoted\\" ', 'back\\\\slash ', 'tab\\t nl\\n ', '\u2028\u2029 ', '\u007f\u0080\u009f ', 'ÿ ', '\\u0000 '];
const body = (parts: string[], repeat: number): string => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: parts.join('').repeat(repeat) }] })
  .replace('"content":"', `"content":"${parts.join('')}`)
  // Whitespace a client may put between tokens: controls JSON.stringify escapes.
  .replace('{', '{\n\t\r ');

describe('encodeEvent with the request\'s bytes', () => {
  it('writes the same bytes as serialising the text, whatever the characters', () => {
    for (let i = 0; i < pieces.length; i++) {
      const parts = [pieces[i]!, ...pieces.slice(0, i)];
      const text = body(parts, Math.ceil(RAW_REQUEST_MIN_BYTES / 8));
      const bytes = Buffer.from(text);
      const e = event(text);
      const plain = encodeEvent(e);
      keepRawRequest(e, text, bytes);
      const fast = encodeEvent(e);
      expect(fast.equals(plain), parts.join('|')).toBe(true);
      expect((JSON.parse(fast.toString()) as LlmCallEvent).request_body === text).toBe(true);
      // The event itself is as it was, and a copy carries no bytes.
      expect(e.request_body).toBe(text);
      expect(Object.keys(e)).not.toContain('gatelog.rawRequest');
      expect(encodeEvent({ ...e, request_body: '' }).equals(Buffer.from(JSON.stringify({ ...e, request_body: '' })))).toBe(true);
    }
  });

  it('writes the same bytes for a body of many pieces, whatever character a piece ends on', () => {
    const all = pieces.join('');
    for (let pad = 0; pad < 12; pad++) {
      // ~100 KB: pieces of 32 KB split it three times, each split shifted by the padding.
      const text = body(['x'.repeat(pad), all], Math.ceil(100_000 / Buffer.byteLength(all)));
      const e = event(text);
      const plain = encodeEvent(e);
      keepRawRequest(e, text, Buffer.from(text));
      expect(encodeEvent(e).equals(plain), `padding ${pad}`).toBe(true);
    }
  });

  it('uses the bytes only while request_body is still their text, and only valid UTF-8 of a long body', () => {
    const text = body(['café ✓ '], RAW_REQUEST_MIN_BYTES);
    const e = event(text);
    keepRawRequest(e, text, Buffer.from(text));
    e.request_body = text.replace('café', '[EMAIL_1]');
    expect(JSON.parse(encodeEvent(e).toString()).request_body).toBe(e.request_body);
    // Bytes that are not the text's UTF-8 (a lone continuation byte) are never kept.
    const bad = Buffer.concat([Buffer.from(text.slice(0, -2)), Buffer.from([0x80]), Buffer.from('"}')]);
    const decoded = bad.toString('utf8');
    const f = event(decoded);
    keepRawRequest(f, decoded, bad);
    expect(encodeEvent(f).equals(Buffer.from(JSON.stringify(f)))).toBe(true);
    // A short body is serialised as text.
    const short = event('{"model":"m"}');
    keepRawRequest(short, short.request_body, Buffer.from(short.request_body));
    expect(encodeEvent(short).equals(Buffer.from(JSON.stringify(short)))).toBe(true);
  });
});

// One absurd number must not send a whole call to the dead-letter file: ClickHouse (real chDB)
// refuses a row with input_tokens 1e308; insertIsolating repairs it once and it lands, flagged.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SCHEMA_VERSION, getCall, migrate, newRequestId, openStore, type LlmCallEvent, type Store } from '@gatelog/core';
import { MAX_AUDIO_SECONDS, MAX_TOKENS_PER_CALL, USAGE_INVALID, sanitizeEventNumbers } from '@gatelog/core/event-numbers';
import { insertIsolating } from './insert-batch.ts';

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-absurd-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
}, 60_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function event(over: Partial<Record<keyof LlmCallEvent, unknown>>): Record<string, unknown> {
  const e: LlmCallEvent = {
    schema_version: EVENT_SCHEMA_VERSION, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date().toISOString(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: '', key_name: 'absurd', team: '', endpoint: '/v1/chat/completions',
    client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: 'm', provider: 'p', deployment_model: 'm', upstream_model: 'm',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 10, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false,
    cost_usd: 0.001, cache_hit: false, cache_saved_usd: 0, ttft_ms: null, latency_ms: 12, overhead_ms: 1, attempts: [],
    request_body: '{"model":"m"}', response_body: '{"choices":[]}', request_bytes: 400, response_bytes: 800, truncated: false,
  };
  return { ...e, ...over };
}

describe('absurd numbers at ingest', () => {
  it('a row ClickHouse refuses for one number is repaired, inserted and flagged; its batch neighbours land too', async () => {
    const good = event({});
    const absurd = event({ input_tokens: 1e308, output_tokens: -3, cost_usd: 1e300, latency_ms: 1e308 });
    const records = [good, absurd, event({})].map((e) => Buffer.from(JSON.stringify(e)));
    const errors: string[] = [];
    const r = await insertIsolating(records, (rows) => store.insertRaw('llm_calls', rows), (i) => errors.push(i.type || i.code));
    expect(r.dead).toEqual([]);
    expect(r.inserted).toBe(3);
    expect(errors.length).toBeGreaterThan(0); // ClickHouse did refuse the original row
    const stored = await getCall(store, String(absurd['request_id']));
    expect(stored).toMatchObject({ input_tokens: 100, output_tokens: 200, tokens_estimated: true, error_type: USAGE_INVALID, cost_usd: null, outcome: 'success' });
  });

  it('a row that is bad for another reason is still dead-lettered', async () => {
    const bad = Buffer.from(JSON.stringify(event({ request_id: 'not-a-uuid' })));
    const r = await insertIsolating([bad], (rows) => store.insertRaw('llm_calls', rows));
    expect(r.dead).toHaveLength(1);
  });
});

describe('sanitizeEventNumbers', () => {
  it('leaves a sane event alone', () => {
    expect(sanitizeEventNumbers(event({}))).toBe(false);
  });

  it('treats any unusable token count as missing usage, estimated from the body sizes', () => {
    for (const bad of [1e308, -1, 1.5, MAX_TOKENS_PER_CALL + 1, null, 'many']) {
      const e = event({ reasoning_tokens: bad });
      expect(sanitizeEventNumbers(e)).toBe(true);
      expect(e).toMatchObject({ input_tokens: 100, output_tokens: 200, reasoning_tokens: 0, tokens_estimated: true, error_type: USAGE_INVALID });
    }
  });

  it('keeps an existing error type, bounds costs, durations, sizes and statuses', () => {
    const e = event({ input_tokens: 1e308, error_type: 'http_500', cost_usd: -1, cache_saved_usd: 1e308, ttft_ms: -5, overhead_ms: 1e308, request_bytes: 1e308, status: 1e308, attempts: [{ provider: 'p', model: 'm', status: -1, error_class: '', latency_ms: -1 }] });
    expect(sanitizeEventNumbers(e)).toBe(true);
    expect(e).toMatchObject({ error_type: 'http_500', cost_usd: null, cache_saved_usd: 0, ttft_ms: 0, status: 0, attempts: [{ status: 0, latency_ms: 0 }] });
    expect(e['overhead_ms']).toBeLessThanOrEqual(7 * 86_400_000);
    expect(e['request_bytes']).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('bounds the units audio and images calls are billed by: counts ClickHouse cannot hold are not reported', () => {
    const e = event({ images: 1e308, input_characters: -3, input_image_tokens: 2 ** 40, audio_seconds: 1e308 });
    expect(sanitizeEventNumbers(e)).toBe(true);
    expect(e).toMatchObject({ images: 0, input_characters: 0, input_image_tokens: 0 });
    expect(e['audio_seconds']).toBe(MAX_AUDIO_SECONDS);
    const ok = event({ images: 3, input_characters: 1200, input_image_tokens: 194, audio_seconds: 12.4 });
    expect(sanitizeEventNumbers(ok)).toBe(false);
  });
});

describe('absurd numbers on the Kafka path', () => {
  it('an event that fails the schema only for its numbers is repaired, not dead-lettered', async () => {
    const { validateMessage } = await import('./kafka-validate.ts');
    const v = validateMessage(Buffer.from(JSON.stringify(event({ output_tokens: -7, latency_ms: null }))));
    expect(v.ok).toBe(true);
    const repaired = JSON.parse((v as { repaired: Buffer }).repaired.toString()) as Record<string, unknown>;
    expect(repaired).toMatchObject({ output_tokens: 200, tokens_estimated: true, error_type: USAGE_INVALID, latency_ms: 0 });
    expect(validateMessage(Buffer.from(JSON.stringify(event({})))).ok).toBe(true);
    expect(validateMessage(Buffer.from(JSON.stringify(event({ request_id: 'nope' })))).ok).toBe(false);
  });
});

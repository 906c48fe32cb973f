// Tests of store queries: one complete, valid call event with overridable fields (a priced
// 200 chat call of key k1 in team red at 2026-03-01T10:00Z), so each test states only what it varies.
import { newRequestId } from '../ids.ts';
import type { LlmCallEvent } from '../event.ts';

export function testEvent(over: Partial<LlmCallEvent>): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 't', request_id: newRequestId(), started_at: '2026-03-01T10:00:00.000Z',
    trace_id: '', session_id: '', user: '', tags: {}, key_id: 'k1', key_name: 'key-one', team: 'red',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'm-a', provider: 'p1', deployment_model: 'm-a', upstream_model: 'm-a',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 10, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: 0.01, cache_hit: false, ttft_ms: null, latency_ms: 100, overhead_ms: 1,
    attempts: [], request_body: '{}', response_body: '{}', request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

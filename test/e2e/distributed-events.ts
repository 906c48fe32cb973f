// Call events for the distributed-mode tests: valid by the core schema, with a body of a
// chosen size so byte-based limits (spool caps, batch sizes) can be exercised.
import { GATELOG_VERSION, LlmCallEvent, newRequestId } from '@gatelog/core';

export function sampleEvent(over: Partial<LlmCallEvent> = {}, bodyBytes = 64): LlmCallEvent {
  const content = 'x'.repeat(Math.max(0, bodyBytes - 40));
  const request_body = JSON.stringify({ messages: [{ role: 'user', content }] });
  return LlmCallEvent.parse({
    schema_version: 1,
    gatelog_version: GATELOG_VERSION,
    request_id: newRequestId(),
    started_at: new Date().toISOString(),
    trace_id: '',
    session_id: '',
    user: '',
    tags: {},
    key_id: '',
    key_name: '',
    team: '',
    endpoint: '/v1/chat/completions',
    client_api: 'openai.chat',
    upstream_api: 'openai.chat',
    requested_model: 'mock-chat',
    provider: 'mock',
    deployment_model: 'mock-chat',
    upstream_model: 'mock-chat',
    stream: false,
    status: 200,
    outcome: 'success',
    error_type: '',
    error_message: '',
    finish_reason: 'stop',
    input_tokens: 10,
    output_tokens: 5,
    cached_tokens: 0,
    cache_creation_tokens: 0,
    reasoning_tokens: 0,
    tokens_estimated: false,
    cost_usd: 0.0001,
    cache_hit: false,
    ttft_ms: null,
    latency_ms: 12.5,
    overhead_ms: 0.4,
    attempts: [{ provider: 'mock', model: 'mock-chat', status: 200, error_class: '', latency_ms: 12 }],
    request_body,
    response_body: '{"choices":[]}',
    request_bytes: Buffer.byteLength(request_body),
    response_bytes: 14,
    truncated: false,
    ...over,
  });
}

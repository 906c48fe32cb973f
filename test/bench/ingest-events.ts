// Realistic ~2 KB call events for the ingest bench: prompts and answers made of varied words
// (so the topic's ZSTD or GZIP sees text-like entropy, not one repeated byte), a spread of
// models, keys and tags, as the proxy records them. Built as JSON directly: the bench makes
// 100k+ of them and a zod parse per event would measure the generator, not ingest. The first
// one is checked against the core schema so the shape cannot drift.
import { GATELOG_VERSION, LlmCallEvent, newRequestId } from '@gatelog/core';

const WORDS = (
  'the of and to in is you that it for on are with as this be at have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part over new sound take only little work know place year live me back give most very after thing our just name good sentence man think say great where help through much before line right too mean old any same tell boy follow came want show also around form three small set put end does another well large must big even such because turn here why ask went men read need land different home us move try kind hand picture again change off play spell air away animal house point page letter mother answer found study still learn should america world'
).split(' ');
const MODELS = [['gpt-4o-mini', 'openai'], ['gpt-4o', 'openai'], ['claude-sonnet-4', 'anthropic'], ['claude-haiku-4', 'anthropic'], ['llama-3.1-70b', 'groq']] as const;

/** Deterministic xorshift so runs are comparable. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function text(r: () => number, bytes: number): string {
  let out = '';
  while (out.length < bytes) out += `${WORDS[Math.floor(r() * WORDS.length)]!}${r() < 0.08 ? '. ' : ' '}`;
  return out.slice(0, bytes);
}

/** One event as the proxy would serialize it, ~2 KB; `startedAt` in ms since the epoch. */
export function realisticEvent(r: () => number, startedAt = Date.now(), requestId = newRequestId()): Record<string, unknown> {
  const [model, provider] = MODELS[Math.floor(r() * MODELS.length)]!;
  const input = 200 + Math.floor(r() * 400);
  const output = 50 + Math.floor(r() * 200);
  const request_body = JSON.stringify({
    model,
    messages: [
      { role: 'system', content: text(r, 160) },
      { role: 'user', content: text(r, 300 + Math.floor(r() * 100)) },
    ],
    temperature: 0.2,
  });
  const response_body = JSON.stringify({
    id: `chatcmpl-${requestId.slice(0, 12)}`,
    object: 'chat.completion',
    model,
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text(r, 190 + Math.floor(r() * 80)) } }],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
  });
  const latency = 200 + r() * 1800;
  return {
    schema_version: 1,
    gatelog_version: GATELOG_VERSION,
    request_id: requestId,
    started_at: new Date(startedAt).toISOString(),
    trace_id: `trace-${Math.floor(r() * 1e9).toString(36)}`,
    session_id: `sess-${Math.floor(r() * 1e6).toString(36)}`,
    user: `user-${Math.floor(r() * 500)}`,
    tags: { env: r() < 0.8 ? 'prod' : 'staging', feature: `f${Math.floor(r() * 20)}` },
    key_id: `key_${Math.floor(r() * 40)}`,
    key_name: `service-${Math.floor(r() * 40)}`,
    team: `team-${Math.floor(r() * 8)}`,
    endpoint: '/v1/chat/completions',
    client_api: 'openai.chat',
    upstream_api: provider === 'anthropic' ? 'anthropic.messages' : 'openai.chat',
    requested_model: model,
    provider,
    deployment_model: model,
    upstream_model: `${model}-2025-01-01`,
    stream: r() < 0.5,
    status: 200,
    outcome: 'success',
    error_type: '',
    error_message: '',
    finish_reason: 'stop',
    input_tokens: input,
    output_tokens: output,
    cached_tokens: 0,
    cache_creation_tokens: 0,
    reasoning_tokens: 0,
    tokens_estimated: false,
    cost_usd: (input * 0.15 + output * 0.6) / 1e6,
    cache_hit: false,
    ttft_ms: 80 + r() * 300,
    latency_ms: latency,
    overhead_ms: 0.3 + r() * 0.5,
    attempts: [{ provider, model, status: 200, error_class: '', latency_ms: latency }],
    request_body,
    response_body,
    request_bytes: Buffer.byteLength(request_body),
    response_bytes: Buffer.byteLength(response_body),
    truncated: false,
  };
}

/** Serialized event bytes; throws if the generator no longer matches the core schema. */
export function checkedEventBytes(r: () => number): Buffer {
  const e = realisticEvent(r);
  LlmCallEvent.parse(e);
  return Buffer.from(JSON.stringify(e));
}

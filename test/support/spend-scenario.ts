// A seeded spend history with two spikes whose causes are known, for the spike decomposition
// (store test and browser test): two hours of 5-minute buckets of steady traffic (8 calls a
// bucket over four keys, four users, two teams), then
//  - bucket LOOP_BUCKET: user `looper` (key-a, team alpha, tag app=agent) makes 60 more calls
//    of the usual model: a spike explained by call volume, user looper;
//  - bucket SWITCH_BUCKET: key-x (team alpha) sends its usual calls to a 30× pricier model:
//    a spike explained by model mix, key key-x.
// Plus one streamed call of model `lonely` in bucket LONELY_BUCKET only (sparse latency).
import { newRequestId, type LlmCallEvent } from '@gatelog/core';

export const STEP_MS = 5 * 60_000;
export const BUCKETS = 24;
export const LOOP_BUCKET = 6;
export const SWITCH_BUCKET = 20;
export const LONELY_BUCKET = 12;
export const SMALL_USD_PER_TOKEN = 1e-4;
export const LARGE_USD_PER_TOKEN = 3e-3;
const IN = 1000;
const OUT = 200;

export interface Scenario {
  a: number;
  b: number;
  small: string;
  large: string;
  lonely: string;
  keyX: string;
  looper: string;
  events: LlmCallEvent[];
}

export function spendEvent(over: Partial<LlmCallEvent>): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date(0).toISOString(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: 'key_1', key_name: 'key-1', team: 'alpha',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'm', provider: 'mock', deployment_model: 'm', upstream_model: 'm',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: IN, output_tokens: OUT, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: (IN + OUT) * SMALL_USD_PER_TOKEN, cache_hit: false, ttft_ms: null, latency_ms: 100, overhead_ms: 0.4,
    attempts: [], request_body: '{}', response_body: '{}', request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

/** `a`: the first bucket's start (a multiple of STEP_MS); `tag` makes names unique per test. */
export function spendScenario(a: number, tag: string): Scenario {
  const small = `small-${tag}`;
  const large = `large-${tag}`;
  const lonely = `lonely-${tag}`;
  const keys = [['key-x', 'alpha'], ['key-a', 'alpha'], ['key-b', 'beta'], ['key-c', 'beta']] as const;
  const users = ['u0', 'u1', 'u2', 'u3'];
  const at = (b: number, i: number): string => new Date(a + b * STEP_MS + 1000 + i * 200).toISOString();
  const events: LlmCallEvent[] = [];
  for (let b = 0; b < BUCKETS; b++) {
    for (let i = 0; i < 8; i++) {
      const [key, team] = keys[i % 4]!;
      const switched = b === SWITCH_BUCKET && key === 'key-x';
      const model = switched ? large : small;
      events.push(spendEvent({
        started_at: at(b, i), key_id: `${key}-${tag}`, key_name: `${key}-${tag}`, team: `${team}-${tag}`, user: `${users[(i >> 1) % 4]}-${tag}`,
        tags: { app: i % 2 ? 'web' : 'batch' }, requested_model: model, deployment_model: model, upstream_model: model,
        provider: switched ? `big-${tag}` : `mock-${tag}`, cost_usd: (IN + OUT) * (switched ? LARGE_USD_PER_TOKEN : SMALL_USD_PER_TOKEN),
        latency_ms: 100 + i,
      }));
    }
  }
  for (let i = 0; i < 60; i++) {
    events.push(spendEvent({
      started_at: at(LOOP_BUCKET, 8 + i), key_id: `key-a-${tag}`, key_name: `key-a-${tag}`, team: `alpha-${tag}`, user: `looper-${tag}`,
      tags: { app: 'agent' }, requested_model: small, deployment_model: small, upstream_model: small, provider: `mock-${tag}`,
      // Some loops retry: a signal beside the factors.
      attempts: i % 5 === 0 ? [{ provider: 'mock', model: small, status: 429, error_class: 'rate_limited', latency_ms: 5 }, { provider: 'mock', model: small, status: 200, error_class: '', latency_ms: 90 }] : [],
    }));
  }
  events.push(spendEvent({
    started_at: at(LONELY_BUCKET, 40), requested_model: lonely, deployment_model: lonely, upstream_model: lonely, provider: `lonely-p-${tag}`,
    key_id: `key-b-${tag}`, key_name: `key-b-${tag}`, team: `beta-${tag}`, user: `u1-${tag}`, stream: true, ttft_ms: 240, latency_ms: 900, cost_usd: 0,
  }));
  return { a, b: a + BUCKETS * STEP_MS, small, large, lonely, keyX: `key-x-${tag}`, looper: `looper-${tag}`, events };
}

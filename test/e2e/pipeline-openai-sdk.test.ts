// The whole embedded pipeline as a user runs it: the real `openai` SDK → a gatelog process
// (`gatelog start`) → a fake OpenAI upstream on loopback; then the recorded call is read back
// from embedded ClickHouse through the calls API and checked field by field.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_USAGE, reportedModel, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'gl-master-e2e-0123456789';
const PROVIDER_KEY = 'sk-upstream-secret-abcdef';

let fake: FakeOpenAi;
let gl: GatelogProcess;
let client: OpenAI;

interface RecordedCall {
  request_id: string;
  requested_model: string;
  provider: string;
  deployment_model: string;
  upstream_model: string;
  stream: boolean;
  status: number;
  outcome: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  tokens_estimated: boolean;
  cost_usd: number | null;
  ttft_ms: number | null;
  latency_ms: number;
  overhead_ms: number;
  request_body: string;
  response_body: string;
  request_bytes: number;
  truncated: boolean;
  trace_id: string;
  tags: Record<string, string>;
}

/** Poll the calls API until the call is in ClickHouse (bounded), returning it and how long it took. */
async function recorded(id: string, timeoutMs = 10_000): Promise<{ call: RecordedCall; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${gl.url}/admin/calls/${id}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (res.status === 200) return { call: (await res.json()) as RecordedCall, waitedMs: Date.now() - t0 };
    expect(res.status).toBe(404);
    if (Date.now() - t0 > timeoutMs) throw new Error(`call ${id} not in ClickHouse after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  gl = await startGatelog({
    config: {
      providers: { fake: { kind: 'openai', base_url: fake.baseUrl, api_key: '${FAKE_KEY}' } },
      models: [{ name: 'fast', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] }],
      pricing: [{ provider: 'fake', model: 'gpt-4o-mini', input: 0.15, output: 0.6 }],
      ingest: { batch_rows: 1000, batch_ms: 200 },
    },
    env: { GATELOG_MASTER_KEY: MASTER, FAKE_KEY: PROVIDER_KEY },
  });
  client = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
});

afterAll(async () => {
  await gl?.stop();
  await fake?.close();
});

const expectedCost = (DEFAULT_USAGE.prompt_tokens * 0.15 + DEFAULT_USAGE.completion_tokens * 0.6) / 1e6;

describe('openai SDK → gatelog → ClickHouse', () => {
  it('records a non-stream call with exact bodies, tokens, cost and latency', async () => {
    const prompt = `non-stream ${crypto.randomUUID()} — ünïcødé ✓`;
    const { data, response } = await client.chat.completions
      .create(
        { model: 'fast', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompt }], temperature: 0 },
        { headers: { 'x-gatelog-trace-id': 'trace-e2e-1', 'x-gatelog-tags': 'team=search,env=test' } },
      )
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(`Fake reply to: ${prompt}`);
    expect(data.usage?.prompt_tokens).toBe(DEFAULT_USAGE.prompt_tokens);
    const id = response.headers.get('x-gatelog-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const { call, waitedMs } = await recorded(id!);
    expect(waitedMs).toBeLessThan(5_000);
    expect(call).toMatchObject({
      request_id: id,
      requested_model: 'fast',
      provider: 'fake',
      deployment_model: 'gpt-4o-mini',
      upstream_model: reportedModel('gpt-4o-mini'),
      stream: false,
      status: 200,
      outcome: 'success',
      input_tokens: DEFAULT_USAGE.prompt_tokens,
      output_tokens: DEFAULT_USAGE.completion_tokens,
      cached_tokens: DEFAULT_USAGE.cached_tokens,
      reasoning_tokens: DEFAULT_USAGE.reasoning_tokens,
      tokens_estimated: false,
      truncated: false,
      trace_id: 'trace-e2e-1',
      tags: { team: 'search', env: 'test' },
    });
    expect(call.cost_usd).toBeCloseTo(expectedCost, 12);
    // Exact bytes: what the SDK sent is what was stored; what the upstream answered is what was stored.
    const sent = fake.requests.at(-1)!;
    expect(JSON.parse(call.request_body)).toMatchObject({ model: 'fast', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompt }] });
    expect(call.request_bytes).toBe(Buffer.byteLength(call.request_body));
    expect(JSON.parse(call.response_body)).toEqual(data);
    expect(call.latency_ms).toBeGreaterThan(0);
    expect(call.overhead_ms).toBeGreaterThan(0);
    expect(call.overhead_ms).toBeLessThan(call.latency_ms);
    // The upstream saw the provider key, never the client's master key.
    expect(sent.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.stringify(call)).not.toContain(MASTER);
    expect(JSON.stringify(call)).not.toContain(PROVIDER_KEY);
  });

  it('records a stream call: client sees no injected usage chunk, the event has usage and the assembled reply', async () => {
    const prompt = `stream ${crypto.randomUUID()}`;
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'fast', messages: [{ role: 'user', content: prompt }], stream: true })
      .withResponse();
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text).toBe(`Fake reply to: ${prompt}`);
    expect(sawUsage).toBe(false);
    const upstreamBody = fake.requests.at(-1)!.body as { stream_options?: { include_usage?: boolean } };
    expect(upstreamBody.stream_options?.include_usage).toBe(true);

    const { call } = await recorded(response.headers.get('x-gatelog-request-id')!);
    expect(call).toMatchObject({ stream: true, status: 200, outcome: 'success', input_tokens: DEFAULT_USAGE.prompt_tokens, output_tokens: DEFAULT_USAGE.completion_tokens, tokens_estimated: false });
    expect(call.cost_usd).toBeCloseTo(expectedCost, 12);
    expect(call.ttft_ms).not.toBeNull();
    expect(call.ttft_ms!).toBeLessThanOrEqual(call.latency_ms);
    expect(JSON.parse(call.response_body)).toMatchObject({ choices: [{ message: { role: 'assistant', content: `Fake reply to: ${prompt}` } }] });
    // The stored request is what the client sent (without the usage option gatelog added upstream).
    expect(JSON.parse(call.request_body)).not.toHaveProperty('stream_options');
  });

  it('a stream that asked for usage gets it, and one with no usage upstream is estimated and flagged', async () => {
    const s1 = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'usage please' }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of s1) usage ??= c.usage;
    expect(usage?.completion_tokens).toBe(DEFAULT_USAGE.completion_tokens);

    fake.behave({ noUsage: true });
    try {
      const { data: s2, response } = await client.chat.completions
        .create({ model: 'fast', messages: [{ role: 'user', content: 'count these tokens for me please' }], stream: true })
        .withResponse();
      for await (const _ of s2) void _;
      const { call } = await recorded(response.headers.get('x-gatelog-request-id')!);
      expect(call.tokens_estimated).toBe(true);
      expect(call.input_tokens).toBeGreaterThan(0);
      expect(call.output_tokens).toBeGreaterThan(0);
    } finally {
      fake.reset();
    }
  });

  it('reports readiness from the store and the event log', async () => {
    const res = await fetch(`${gl.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { store: true, event_log: true } });
  });

  it('an upstream error passes through with its status and is recorded', async () => {
    fake.behave({ error: { status: 429, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } } } });
    try {
      const err = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const e = err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.code).toBe('rate_limit_exceeded');
      const id = e.headers?.get('x-gatelog-request-id');
      expect(id).toBeTruthy();
      const { call } = await recorded(id!);
      expect(call).toMatchObject({ status: 429, outcome: 'error' });
    } finally {
      fake.reset();
    }
  });
});

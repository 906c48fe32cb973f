// The embedded pipeline with Anthropic on both sides: the real @anthropic-ai/sdk → a gatelog
// process → a fake Anthropic upstream, and the real openai SDK → the same upstream through an
// alias; the calls are read back from embedded ClickHouse with both APIs and cache tokens.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_USAGE, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'gl-master-e2e-anthropic-0123';
const PROVIDER_KEY = 'sk-ant-upstream-secret';

let fake: FakeAnthropic;
let gl: GatelogProcess;

interface RecordedCall {
  client_api: string;
  upstream_api: string;
  provider: string;
  upstream_model: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cache_creation_tokens: number;
  cost_usd: number | null;
  response_body: string;
  request_body: string;
}

async function recorded(id: string, timeoutMs = 10_000): Promise<RecordedCall> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${gl.url}/admin/calls/${id}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (res.status === 200) return (await res.json()) as RecordedCall;
    expect(res.status).toBe(404);
    if (Date.now() - t0 > timeoutMs) throw new Error(`call ${id} not in ClickHouse after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gl = await startGatelog({
    config: {
      providers: { ant: { kind: 'anthropic', base_url: fake.url, api_key: '${ANT_KEY}' } },
      models: [{ name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-sonnet-20241022' }] }],
      ingest: { batch_rows: 1000, batch_ms: 200 },
    },
    env: { GATELOG_MASTER_KEY: MASTER, ANT_KEY: PROVIDER_KEY },
  });
});

afterAll(async () => {
  await gl?.stop();
  await fake?.close();
});

const u = FAKE_ANTHROPIC_USAGE;
const input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;

describe('Anthropic SDK and openai SDK → gatelog → Anthropic → ClickHouse', () => {
  it('a streamed /v1/messages call is recorded with cache tokens and cost; the key never stored', async () => {
    const client = new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
    const { response } = await client.messages.stream({ model: 'claude', max_tokens: 64, messages: [{ role: 'user', content: 'recorded?' }] }).withResponse();
    const id = response.headers.get('x-gatelog-request-id')!;
    expect(fake.requests[0]!.headers['x-api-key']).toBe(PROVIDER_KEY);
    const call = await recorded(id);
    expect(call).toMatchObject({
      client_api: 'anthropic.messages', upstream_api: 'anthropic.messages', provider: 'ant',
      input_tokens: input, output_tokens: u.output_tokens, cached_tokens: u.cache_read_input_tokens, cache_creation_tokens: u.cache_creation_input_tokens,
    });
    expect(call.cost_usd).toBeGreaterThan(0);
    expect(JSON.stringify(call)).not.toContain(PROVIDER_KEY);
    expect(JSON.stringify(call)).not.toContain(MASTER);
  });

  it('an OpenAI chat call to the Anthropic alias is recorded as translated', async () => {
    const client = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const call = await recorded(response.headers.get('x-gatelog-request-id')!);
    expect(call).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages', cache_creation_tokens: u.cache_creation_input_tokens });
    expect((JSON.parse(call.response_body) as { object: string }).object).toBe('chat.completion');
  });
});

// Fallback across providers end to end: the real `openai` SDK → a gatelog process → an OpenAI
// upstream that is down (503) → the fallback alias on an Anthropic upstream. The SDK sees a
// plain OpenAI response; ClickHouse holds every attempt (read back through GET /admin/calls/:id).
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'gl-master-routing-e2e-0123';

let oa: FakeOpenAi;
let an: FakeAnthropic;
let gl: GatelogProcess;
let client: OpenAI;

interface RecordedCall {
  request_id: string;
  requested_model: string;
  provider: string;
  deployment_model: string;
  stream: boolean;
  status: number;
  outcome: string;
  error_type: string;
  input_tokens: number;
  output_tokens: number;
  response_body: string;
  attempts: { provider: string; model: string; status: number; error_class: string; latency_ms: number }[];
}

async function recorded(id: string | null, timeoutMs = 15_000): Promise<RecordedCall> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${gl.url}/admin/calls/${String(id)}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (res.status === 200) return (await res.json()) as RecordedCall;
    expect(res.status).toBe(404);
    if (Date.now() - t0 > timeoutMs) throw new Error(`call ${String(id)} not in ClickHouse after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  oa = await startFakeOpenAi();
  an = await startFakeAnthropic();
  gl = await startGatelog({
    config: {
      providers: {
        oa: { kind: 'openai', base_url: oa.baseUrl, api_key: 'sk-oa-secret' },
        an: { kind: 'anthropic', base_url: an.url, api_key: 'sk-ant-secret' },
      },
      models: [
        { name: 'chat', fallbacks: ['claude'], deployments: [{ provider: 'oa', model: 'gpt-4o-mini' }] },
        { name: 'claude', deployments: [{ provider: 'an', model: 'claude-haiku-4-5' }] },
      ],
      // No cooldown here: each test sees the OpenAI deployment fresh (cooldowns have their own test).
      router: { retries: 1, backoff: { base_ms: 10, max_ms: 50 }, timeouts: { ttfb_ms: 5000, idle_ms: 5000, total_ms: 20_000 }, cooldown: { failures: 0 } },
      ingest: { batch_rows: 1000, batch_ms: 200 },
    },
    env: { GATELOG_MASTER_KEY: MASTER },
  });
  client = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
});

afterAll(async () => {
  await gl?.stop();
  await oa?.close();
  await an?.close();
});

beforeEach(() => {
  oa.reset();
  an.reset();
});

describe('fallback OpenAI → Anthropic, recorded in ClickHouse', () => {
  it('non-stream: the SDK gets an OpenAI chat.completion; every attempt is stored', async () => {
    oa.behave({ error: { status: 503 } });
    const prompt = `fallback ${crypto.randomUUID()}`;
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: prompt }] }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content).toBe(`Fake reply to: ${prompt}`);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(oa.requests).toHaveLength(2);
    expect(an.requests).toHaveLength(1);
    const call = await recorded(response.headers.get('x-gatelog-request-id'));
    expect(call).toMatchObject({ requested_model: 'chat', provider: 'an', deployment_model: 'claude-haiku-4-5', status: 200, outcome: 'success' });
    expect(call.attempts.map((x) => [x.provider, x.model, x.status, x.error_class])).toEqual([
      ['oa', 'gpt-4o-mini', 503, 'http_503'],
      ['oa', 'gpt-4o-mini', 503, 'http_503'],
      ['an', 'claude-haiku-4-5', 200, ''],
    ]);
    expect(call.attempts.every((x) => x.latency_ms >= 0)).toBe(true);
  });

  it('stream: OpenAI chunks from the Anthropic fallback', async () => {
    oa.behave({ error: { status: 429 } });
    const prompt = `stream fallback ${crypto.randomUUID()}`;
    const { data: stream, response } = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: prompt }] }).withResponse();
    let text = '';
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(`Fake reply to: ${prompt}`);
    const call = await recorded(response.headers.get('x-gatelog-request-id'));
    expect(call.stream).toBe(true);
    expect(call.provider).toBe('an');
    expect(call.attempts.map((x) => `${x.provider}:${x.status}`)).toEqual(['oa:429', 'oa:429', 'an:200']);
  });

  it('a stream broken after its first byte: the SDK raises, ClickHouse holds a partial call', async () => {
    oa.behave({ resetAfterEvents: 3 });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'break me' }] });
    let seen = '';
    let id: string | undefined;
    await expect(
      (async () => {
        for await (const chunk of stream) {
          id ??= chunk.id;
          seen += chunk.choices[0]?.delta.content ?? '';
        }
      })(),
    ).rejects.toThrow();
    expect(an.requests).toHaveLength(0);
    // The SDK raised before handing out the response headers: find the call in the list.
    let call: RecordedCall | undefined;
    for (let i = 0; i < 100 && !call; i++) {
      const list = (await (await fetch(`${gl.url}/admin/calls?limit=50`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as { data: RecordedCall[] };
      call = list.data.find((r) => r.outcome === 'partial');
      if (!call) await new Promise((r) => setTimeout(r, 100));
    }
    expect(call).toBeDefined();
    const full = await recorded(call!.request_id);
    expect(full.error_type).toBe('upstream_unavailable');
    expect(full.attempts.map((x) => `${x.provider}:${x.status}:${x.error_class}`)).toEqual(['oa:200:upstream_unavailable']);
    expect(seen.length).toBeGreaterThan(0);
    expect(full.response_body).toContain(seen);
    expect(id).toBe('chatcmpl-fake123');
  });
});

// An upstream that reports absurd usage (1e308 tokens, negative counts): the call used to end
// in the dead-letter file only, invisible in the explorer, and its cost poisoned budgets.
// Now the usage counts as missing — estimated from the body sizes, flagged with error_type
// upstream_usage_invalid — and the call is stored once like any other; the key's budget
// keeps working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicMessage,
  anthropicStreamEvents,
  openAiCompletion,
  openAiStreamEvents,
  sendJson,
  sendSse,
  startAbuseGatelog,
  startUpstream,
  stopAll,
  waitRecorded,
  type AbuseGatelog,
  type Upstream,
} from './harness.ts';

const ABSURD = { prompt_tokens: 1e308, completion_tokens: -7, total_tokens: 1e308 };

let gl: AbuseGatelog;
let openai: Upstream;
let anthropic: Upstream;

beforeAll(async () => {
  openai = await startUpstream((req, res) => {
    const model = String(req.body['model']);
    if (req.body['stream'] === true) sendSse(res, openAiStreamEvents(model, ['Hello', ' there'], ABSURD));
    else sendJson(res, 200, openAiCompletion(model, 'Hello there', ABSURD));
  });
  anthropic = await startUpstream((req, res) => {
    const model = String(req.body['model']);
    if (req.body['stream'] === true) sendSse(res, anthropicStreamEvents(model, ['Hello'], { input_tokens: 1e308, output_tokens: 1e308 }));
    else sendJson(res, 200, anthropicMessage(model, 'Hello', { input_tokens: 1e308, output_tokens: 5 }));
  });
  gl = await startAbuseGatelog({
    config: {
      providers: { oai: { kind: 'openai', base_url: openai.baseUrl, api_key: 'sk-upstream-oai' }, ant: { kind: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-upstream' } },
      models: [
        { name: 'gpt', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
      ],
      pricing: [
        { provider: 'oai', model: 'gpt-4o-mini', input: 1, output: 1 },
        { provider: 'ant', model: 'claude-sonnet-4-5', input: 1, output: 1 },
      ],
    },
  });
}, 180_000);

afterAll(() => stopAll(gl, openai, anthropic));

interface Stored {
  outcome: string;
  status: number;
  input_tokens: number;
  output_tokens: number;
  tokens_estimated: boolean;
  error_type: string;
  cost_usd: number | null;
}

describe('absurd usage from an upstream', () => {
  it('every call is stored once, estimated and flagged, and the budget keeps working', { timeout: 180_000 }, async () => {
    const { id, secret } = await gl.createKey({ name: 'absurd-usage', budget_usd: 1, budget_period: 'monthly' });
    const cases = [
      { path: '/v1/chat/completions', model: 'gpt', stream: false },
      { path: '/v1/chat/completions', model: 'gpt', stream: true },
      { path: '/v1/messages', model: 'claude', stream: false },
      { path: '/v1/messages', model: 'claude', stream: true },
    ];
    // Twice over: a poisoned budget would refuse the second round.
    for (let round = 0; round < 2; round++) {
      for (const c of cases) {
        const res = await fetch(`${gl.url}${c.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({ model: c.model, max_tokens: 64, stream: c.stream, messages: [{ role: 'user', content: 'hi' }] }),
        });
        const text = await res.text();
        expect(res.status, `${c.path} ${c.model} stream=${c.stream}: ${text}`).toBe(200);
        expect(text).toContain('Hello');
      }
    }
    const n = cases.length * 2;
    const rec = await waitRecorded(gl, { keyId: id }, n);
    expect(rec).toMatchObject({ stored: n, published: n, deadLettered: 0 });
    for (const rid of rec.requestIds) {
      const call = (await (await gl.admin('GET', `/admin/calls/${rid}`)).json()) as Stored;
      expect(call).toMatchObject({ outcome: 'success', status: 200, tokens_estimated: true, error_type: 'upstream_usage_invalid' });
      expect(call.input_tokens).toBeGreaterThan(0);
      expect(call.input_tokens).toBeLessThan(10_000);
      expect(call.cost_usd).not.toBeNull();
      expect(call.cost_usd!).toBeLessThan(0.01);
    }
    // The explorer can find them by the flag.
    const flagged = await gl.admin('GET', `/admin/calls?key=${id}&status=ok&limit=50`);
    expect(((await flagged.json()) as { data: unknown[] }).data).toHaveLength(n);
  });
});

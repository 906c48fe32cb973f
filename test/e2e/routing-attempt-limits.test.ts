// Per-attempt time limits through a real proxy, the real `openai` and `@anthropic-ai/sdk`
// clients and fake upstreams on loopback: a deployment that never answers is cut so its fallback
// answers inside the call's deadline (fair share by default, or a configured / header limit),
// the attempt limit ends at the first byte (a slow stream is not cut), and bad header values
// are 400s in each API's error shape.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startRoutingProxy, until, type RoutingProxy } from '../support/routing-proxy.ts';

let hung: FakeOpenAi;
let healthy: FakeOpenAi;
let gw: RoutingProxy;
let openai: OpenAI;

beforeAll(async () => {
  hung = await startFakeOpenAi();
  healthy = await startFakeOpenAi();
  gw = await startRoutingProxy({
    providers: { hung: { kind: 'openai', base_url: hung.baseUrl, api_key: 'sk-h' }, ok: { kind: 'openai', base_url: healthy.baseUrl, api_key: 'sk-o' } },
    models: [
      { name: 'main', fallbacks: ['backup'], deployments: [{ provider: 'hung', model: 'gpt-hung' }] },
      // The deployment's own limit wins over its alias's.
      { name: 'by-deployment', fallbacks: ['backup'], attempt_timeout_ms: 5000, deployments: [{ provider: 'hung', model: 'gpt-hung', attempt_timeout_ms: 700 }] },
      { name: 'by-alias', fallbacks: ['backup'], attempt_timeout_ms: 600, deployments: [{ provider: 'hung', model: 'gpt-hung' }] },
      { name: 'backup', deployments: [{ provider: 'ok', model: 'gpt-ok' }] },
    ],
    // Defaults for ttfb (300 s) and total (600 s): only the new limits can cut an attempt early.
    router: { retries: 2, backoff: { base_ms: 20, max_ms: 100 }, cooldown: { failures: 0 }, sse_keepalive_ms: 0 },
  });
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await gw?.close();
  await hung?.close();
  await healthy?.close();
});

beforeEach(() => {
  hung.reset();
  healthy.reset();
  hung.behave({ hang: 'headers' });
});

const shape = (e: { attempts: { provider: string; status: number; error_class: string }[] }): string[] => e.attempts.map((x) => `${x.provider}:${x.status}:${x.error_class}`);

async function call(model: string, headers: Record<string, string>): Promise<{ ms: number; id: string | null; content: string | null }> {
  const t0 = performance.now();
  const { data, response } = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello limits' }] }, { headers }).withResponse();
  return { ms: performance.now() - t0, id: response.headers.get('x-gatelog-request-id'), content: data.choices[0]?.message.content ?? null };
}

describe('a hung deployment leaves its fallback time', () => {
  it('x-gatelog-timeout-ms: 4000 → the first attempt gets half, the fallback answers 200 within 4 s', async () => {
    const r = await call('main', { 'x-gatelog-timeout-ms': '4000' });
    expect(r.content).toBe('Fake reply to: hello limits');
    expect(r.ms).toBeGreaterThanOrEqual(1900);
    expect(r.ms).toBeLessThan(4000);
    const e = await gw.eventFor(r.id);
    expect(shape(e)).toEqual(['hung:504:upstream_timeout', 'ok:200:']);
    expect(e.attempts[0]!.latency_ms).toBeGreaterThanOrEqual(1900);
    expect(e.attempts[0]!.latency_ms).toBeLessThan(2600);
    expect(e.provider).toBe('ok');
    expect(e.outcome).toBe('success');
    // Cut, not retried: one request to the hung deployment, closed by the proxy.
    await until(() => hung.requests.length === 1 && hung.requests[0]!.aborted, 'the hung request to be closed');
  });

  it('streams too: the limit is on the first byte, the fallback streams the answer', async () => {
    hung.behave({ hang: 'body' }); // 200 headers at once, then nothing
    const t0 = performance.now();
    const { data: stream, response } = await openai.chat.completions.create({ model: 'main', stream: true, messages: [{ role: 'user', content: 'hello limits' }] }, { headers: { 'x-gatelog-timeout-ms': '4000' } }).withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    const ms = performance.now() - t0;
    expect(text).toBe('Fake reply to: hello limits');
    expect(ms).toBeLessThan(4000);
    const e = await gw.eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e.attempts.map((x) => `${x.provider}:${x.error_class}`)).toEqual(['hung:upstream_timeout', 'ok:']);
  });

  it('without a fallback the one deployment keeps the whole deadline (504 at the deadline, nothing cut early)', async () => {
    const t0 = performance.now();
    const err = await openai.chat.completions.create({ model: 'hung/gpt-hung', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-gatelog-timeout-ms': '1500' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(504);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(shape(await gw.eventFor(apiErr.headers?.get('x-gatelog-request-id') ?? null))).toEqual(['hung:504:deadline_exceeded']);
  });
});

describe('configured and requested attempt limits', () => {
  it('a deployment attempt_timeout_ms (over its alias\'s) cuts the attempt with no call deadline set', async () => {
    const r = await call('by-deployment', {});
    expect(r.content).toBe('Fake reply to: hello limits');
    expect(r.ms).toBeGreaterThanOrEqual(650);
    expect(r.ms).toBeLessThan(3000);
    const e = await gw.eventFor(r.id);
    expect(shape(e)).toEqual(['hung:504:upstream_timeout', 'ok:200:']);
    expect(e.attempts[0]!.latency_ms).toBeLessThan(2000);
  });

  it('an alias attempt_timeout_ms applies to its deployments', async () => {
    const r = await call('by-alias', {});
    expect(r.ms).toBeGreaterThanOrEqual(550);
    expect(r.ms).toBeLessThan(3000);
    expect(shape(await gw.eventFor(r.id))).toEqual(['hung:504:upstream_timeout', 'ok:200:']);
  });

  it('x-gatelog-attempt-timeout-ms overrides both, and the fair share', async () => {
    const r = await call('by-alias', { 'x-gatelog-attempt-timeout-ms': '1500' });
    expect(r.ms).toBeGreaterThanOrEqual(1450);
    expect(r.ms).toBeLessThan(4000);
    const e = await gw.eventFor(r.id);
    expect(shape(e)).toEqual(['hung:504:upstream_timeout', 'ok:200:']);
    expect(e.attempts[0]!.latency_ms).toBeGreaterThanOrEqual(1450);
    const quick = await call('main', { 'x-gatelog-attempt-timeout-ms': '300', 'x-gatelog-timeout-ms': '8000' });
    expect(quick.ms).toBeLessThan(2500);
  });

  it('the attempt limit stops at the first byte: a slow stream is not cut', async () => {
    // Every event 600 ms apart, the first at once; the attempt may wait 500 ms for its first byte.
    hung.behave({ chunkDelayMs: 600, reply: 'slow' });
    const t0 = performance.now();
    const { data: stream, response } = await openai.chat.completions.create({ model: 'main', stream: true, messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-gatelog-attempt-timeout-ms': '500' } }).withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('slow');
    expect(performance.now() - t0).toBeGreaterThan(1000);
    const e = await gw.eventFor(response.headers.get('x-gatelog-request-id'));
    // One attempt, never cut (the SDK hangs up after [DONE], before the fake's last pause ends).
    expect(e.attempts.map((x) => `${x.provider}:${x.status}`)).toEqual(['hung:200']);
    expect(e.attempts[0]!.error_class).not.toBe('upstream_timeout');
    expect(healthy.requests).toHaveLength(0);
  });
});

describe('bad x-gatelog-attempt-timeout-ms values', () => {
  it.each(['0', '-1', '1.5', 'soon', '99999999999'])('%j → 400 in the OpenAI shape', async (v) => {
    const err = await openai.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-gatelog-attempt-timeout-ms': v } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('invalid_header');
    expect(e.param).toBe('x-gatelog-attempt-timeout-ms');
    expect(e.type).toBe('invalid_request_error');
  });

  it('→ 400 in the Anthropic shape on /v1/messages', async () => {
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0 });
    const err = await anthropic.messages.create({ model: 'main', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-gatelog-attempt-timeout-ms': 'abc' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as InstanceType<typeof Anthropic.BadRequestError>).error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('x-gatelog-attempt-timeout-ms');
    expect(hung.requests).toHaveLength(0);
  });
});

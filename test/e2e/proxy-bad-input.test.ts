// Every bad input answered in its surface's error shape with the right status, and recorded
// exactly once as a refused call (what the client sent, the error it got); master-key auth
// (failures never recorded); upstream failures (HTTP errors pass through; network errors
// become 502), each recorded once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';

const MASTER = 'gl-master-bad-input';
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const AUTH = { authorization: `Bearer ${MASTER}` };

let fake: FakeOpenAi;
let app: FastifyInstance;
let deadPort: number;
let ready = true;
const events: LlmCallEvent[] = [];

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  deadPort = await freePort();
  const config = parseConfig(
    {
      server: { body_limit: 2048 },
      providers: {
        fake: { kind: 'openai', base_url: fake.baseUrl, api_key: 'sk-upstream-secret' },
        dead: { kind: 'openai', base_url: `http://127.0.0.1:${deadPort}/v1`, api_key: 'sk-dead-secret' },
      },
      models: [
        { name: 'smart', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] },
        { name: 'broken', deployments: [{ provider: 'dead', model: 'gpt-4o-mini' }] },
      ],
    },
    'test',
    {},
  );
  app = await buildProxy({
    config,
    publish: (e) => events.push(LlmCallEvent.parse(e)),
    logger: createLogger('silent'),
    registry: new Registry(),
    masterKey: MASTER,
    readiness: () => ({ store: ready, bus: true }),
  });
});

afterAll(async () => {
  await app.close();
  await fake.close();
});

beforeEach(() => {
  fake.reset();
  events.length = 0;
  ready = true;
});

function post(url: string, payload: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...AUTH, ...headers } });
}

function expectOpenAiError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string, type = 'invalid_request_error') {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['x-gatelog-request-id'])).toMatch(UUID_V7);
  const body = JSON.parse(res.body) as { error: { message: string; type: string; param: unknown; code: string } };
  expect(body.error).toEqual({ message: expect.any(String), type, param: body.error.param, code });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

/** The one event this response's call published (and nothing else was published). */
function onlyEvent(res: { headers: Record<string, unknown> }): LlmCallEvent {
  expect(events.map((e) => e.request_id)).toEqual([res.headers['x-gatelog-request-id']]);
  return events[0]!;
}

/** A call gatelog refused before any upstream attempt, recorded once with what the client sent and got. */
function expectRefused(res: { headers: Record<string, unknown> }, fields: Partial<LlmCallEvent>): LlmCallEvent {
  const e = onlyEvent(res);
  expect(e).toMatchObject({
    outcome: 'refused',
    cost_usd: 0,
    attempts: [],
    provider: '',
    deployment_model: '',
    upstream_model: '',
    input_tokens: 0,
    output_tokens: 0,
    response_body: '',
    key_id: '',
    ...fields,
  });
  expect(JSON.stringify(e)).not.toContain(MASTER);
  return e;
}

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"model": "smart",', 'invalid_json', ''],
    ['empty body', '', 'invalid_json', ''],
    ['body is an array', '[1,2]', 'invalid_body', ''],
    ['body is a string', '"hello"', 'invalid_body', ''],
    ['body is null', 'null', 'invalid_body', ''],
    ['missing model', '{"messages":[{"role":"user","content":"x"}]}', 'missing_model', ''],
    ['model not a string', '{"model":42,"messages":[{"role":"user","content":"x"}]}', 'missing_model', ''],
    ['missing messages', '{"model":"smart"}', 'invalid_messages', 'smart'],
    ['empty messages', '{"model":"smart","messages":[]}', 'invalid_messages', 'smart'],
    ['messages not an array', '{"model":"smart","stream":true,"messages":"hi"}', 'invalid_messages', 'smart'],
  ])('%s → 400, recorded once as refused', async (_name, payload, code, model) => {
    const res = await post('/v1/chat/completions', payload);
    const err = expectOpenAiError(res, 400, code);
    expect(fake.requests).toHaveLength(0);
    expectRefused(res, {
      status: 400,
      error_type: 'invalid_request_error',
      error_message: err.message,
      endpoint: '/v1/chat/completions',
      client_api: 'openai.chat',
      requested_model: model,
      request_body: payload,
      request_bytes: Buffer.byteLength(payload),
      truncated: false,
    });
  });

  it('missing input on embeddings, missing prompt on completions → 400 with param, recorded', async () => {
    const res = await post('/v1/embeddings', '{"model":"smart"}');
    const err = expectOpenAiError(res, 400, 'missing_input');
    expect(err.param).toBe('input');
    expectRefused(res, { status: 400, error_message: err.message, endpoint: '/v1/embeddings', client_api: 'openai.embeddings', requested_model: 'smart', request_body: '{"model":"smart"}' });
    events.length = 0;
    const res2 = await post('/v1/completions', '{"model":"smart"}');
    const err2 = expectOpenAiError(res2, 400, 'missing_prompt');
    expectRefused(res2, { status: 400, error_message: err2.message, endpoint: '/v1/completions', client_api: 'openai.completions', requested_model: 'smart' });
  });

  it('unknown model → 404 naming the model and the aliases, nothing secret; recorded with the alias asked for', async () => {
    const payload = '{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}';
    const res = await post('/v1/chat/completions', payload, { 'x-gatelog-trace-id': 'trace-404', 'x-gatelog-session-id': 'sess-1', 'x-gatelog-user': 'u-7', 'x-gatelog-tags': 'app=web,env=test' });
    const err = expectOpenAiError(res, 404, 'model_not_found');
    expect(err.message).toContain('gpt-9');
    expect(err.message).toContain('smart');
    expect(err.message).toContain('broken');
    expect(err.message).not.toMatch(/http|127\.0\.0\.1|sk-/);
    expect(err.param).toBe('model');
    expectRefused(res, {
      status: 404,
      error_type: 'invalid_request_error',
      error_message: err.message,
      requested_model: 'gpt-9',
      request_body: payload,
      trace_id: 'trace-404',
      session_id: 'sess-1',
      user: 'u-7',
      tags: { app: 'web', env: 'test' },
    });
  });

  it('unknown provider in provider/model → 404, recorded', async () => {
    const res = await post('/v1/chat/completions', '{"model":"nope/gpt-4o","messages":[{"role":"user","content":"x"}]}');
    expectOpenAiError(res, 404, 'model_not_found');
    expectRefused(res, { status: 404, requested_model: 'nope/gpt-4o' });
  });

  it('body over the limit → 413, recorded without a body (none was read)', async () => {
    const big = JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
    const res = await post('/v1/chat/completions', big);
    const err = expectOpenAiError(res, 413, 'request_too_large');
    expectRefused(res, { status: 413, error_type: 'invalid_request_error', error_message: err.message, endpoint: '/v1/chat/completions', requested_model: '', request_body: '', request_bytes: 0 });
  });

  it('wrong content type → 415, recorded without a body', async () => {
    const r1 = await post('/v1/chat/completions', 'model=smart', { 'content-type': 'application/x-www-form-urlencoded' });
    const err = expectOpenAiError(r1, 415, 'unsupported_media_type');
    expectRefused(r1, { status: 415, error_type: 'invalid_request_error', error_message: err.message, request_body: '' });
    events.length = 0;
    const r2 = await post('/v1/embeddings', '{}', { 'content-type': 'text/plain' });
    expectOpenAiError(r2, 415, 'unsupported_media_type');
    expectRefused(r2, { status: 415, endpoint: '/v1/embeddings', client_api: 'openai.embeddings', request_body: '' });
  });

  it('Responses surface: missing input → 400, recorded', async () => {
    const res = await post('/v1/responses', '{"model":"smart"}');
    const err = expectOpenAiError(res, 400, 'missing_input');
    expectRefused(res, { status: 400, error_message: err.message, endpoint: '/v1/responses', client_api: 'openai.responses', requested_model: 'smart', request_body: '{"model":"smart"}' });
  });

  it('unknown /v1 path or method → 404, not recorded (not a model call)', async () => {
    expectOpenAiError(await post('/v1/nope', '{}'), 404, 'unknown_url');
    expectOpenAiError(await app.inject({ method: 'GET', url: '/v1/chat/completions', headers: AUTH }), 404, 'unknown_url');
    expectOpenAiError(await app.inject({ method: 'DELETE', url: '/v1/models/x', headers: AUTH }), 404, 'unknown_url');
    expect((await app.inject({ method: 'GET', url: '/v1/models', headers: AUTH })).statusCode).toBe(200);
    expect(events).toEqual([]);
  });
});

describe('bad input on the Anthropic surface', () => {
  function expectAnthropicError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, type: string): string {
    expect(res.statusCode).toBe(status);
    expect(String(res.headers['x-gatelog-request-id'])).toMatch(UUID_V7);
    const body = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
    expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
    return body.error.message;
  }

  it.each([
    ['malformed JSON', 400, 'invalid_request_error', '{"model": "smart",', '', 'not valid JSON'],
    ['missing model', 400, 'invalid_request_error', '{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}', '', 'model: '],
    ['missing messages', 400, 'invalid_request_error', '{"model":"smart","max_tokens":5}', 'smart', 'messages: '],
    ['missing max_tokens', 400, 'invalid_request_error', '{"model":"smart","messages":[{"role":"user","content":"x"}]}', 'smart', 'max_tokens: '],
    ['unknown model', 404, 'not_found_error', '{"model":"claude-nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}', 'claude-nope', 'model: '],
  ])('%s → %i %s in Anthropic\'s shape, recorded once as refused', async (_name, status, type, payload, model, says) => {
    const res = await post('/v1/messages', payload, { 'anthropic-version': '2023-06-01' });
    const message = expectAnthropicError(res, status, type);
    expect(message).toContain(says);
    expect(fake.requests).toHaveLength(0);
    expectRefused(res, {
      status,
      error_type: type,
      error_message: message,
      endpoint: '/v1/messages',
      client_api: 'anthropic.messages',
      requested_model: model,
      request_body: payload,
    });
  });

  it('body over the limit → 413 request_too_large, recorded without a body', async () => {
    const big = JSON.stringify({ model: 'smart', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
    const res = await post('/v1/messages', big);
    const message = expectAnthropicError(res, 413, 'request_too_large');
    expectRefused(res, { status: 413, error_type: 'request_too_large', error_message: message, endpoint: '/v1/messages', client_api: 'anthropic.messages', request_body: '' });
  });

  it('wrong content type → 415, recorded without a body', async () => {
    const res = await post('/v1/messages', 'model=smart', { 'content-type': 'application/x-www-form-urlencoded' });
    const message = expectAnthropicError(res, 415, 'invalid_request_error');
    expectRefused(res, { status: 415, error_type: 'invalid_request_error', error_message: message, endpoint: '/v1/messages', request_body: '' });
  });

  it('a bad token-counting request is answered and recorded once each, like any model call', async () => {
    expectAnthropicError(await post('/v1/messages/count_tokens', '{"model":"smart"}'), 400, 'invalid_request_error');
    expectAnthropicError(await post('/v1/messages/count_tokens', '{"model":'), 400, 'invalid_request_error');
    expect(events.map((e) => [e.client_api, e.status])).toEqual([['anthropic.count_tokens', 400], ['anthropic.count_tokens', 400]]);
  });

  it('a wrong key → 401 in Anthropic\'s shape, not recorded', async () => {
    const res = await post('/v1/messages', '{"model":"smart","max_tokens":5,"messages":[]}', { authorization: '', 'x-api-key': 'wrong-SENTINEL' });
    expectAnthropicError(res, 401, 'authentication_error');
    expect(events).toEqual([]);
  });
});

describe('master key', () => {
  const body = '{"model":"smart","messages":[{"role":"user","content":"x"}]}';

  it('missing or wrong key → 401 invalid_api_key, never echoing what was sent', async () => {
    const r1 = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: body, headers: { 'content-type': 'application/json' } });
    expectOpenAiError(r1, 401, 'invalid_api_key', 'authentication_error');
    const r2 = await post('/v1/chat/completions', body, { authorization: 'Bearer wrong-key-SENTINEL' });
    expectOpenAiError(r2, 401, 'invalid_api_key', 'authentication_error');
    expect(r2.body).not.toContain('SENTINEL');
    const r3 = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: body, headers: { 'content-type': 'application/json', 'x-api-key': 'also-wrong-SENTINEL' } });
    expectOpenAiError(r3, 401, 'invalid_api_key', 'authentication_error');
    expect(r3.body).not.toContain('SENTINEL');
    expectOpenAiError(await app.inject({ method: 'GET', url: '/v1/models' }), 401, 'invalid_api_key', 'authentication_error');
    expect(fake.requests).toHaveLength(0);
    // Not even a bad body behind a wrong key: no caller to attribute it to, and anyone could send it.
    expectOpenAiError(await post('/v1/chat/completions', '{"model":', { authorization: 'Bearer wrong-key-SENTINEL' }), 401, 'invalid_api_key', 'authentication_error');
    expectOpenAiError(await post('/v1/chat/completions', 'x', { authorization: 'Bearer wrong-key-SENTINEL', 'content-type': 'text/plain' }), 401, 'invalid_api_key', 'authentication_error');
    expect(events).toEqual([]);
  });

  it('x-api-key works; the client key never goes upstream; the call is recorded once', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: body, headers: { 'content-type': 'application/json', 'x-api-key': MASTER } });
    expect(res.statusCode).toBe(200);
    expect(onlyEvent(res)).toMatchObject({ outcome: 'success', status: 200, provider: 'fake' });
    const up = fake.requests[0]!;
    expect(up.headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(up.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(up.headers)).not.toContain(MASTER);
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await post('/v1/chat/completions', body, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.statusCode).toBe(200);
  });

  it('/healthz and /readyz stay open; /metrics needs the key', async () => {
    const h = await app.inject({ method: 'GET', url: '/healthz' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toEqual({ status: 'ok' });
    expect(String(h.headers['x-gatelog-request-id'])).toMatch(UUID_V7);
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(200);
    ready = false;
    const r2 = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r2.statusCode).toBe(503);
    expect(r2.json()).toEqual({ status: 'unavailable', checks: { store: false, bus: true } });
    expectOpenAiError(await app.inject({ method: 'GET', url: '/metrics' }), 401, 'invalid_api_key', 'authentication_error');
    const m = await app.inject({ method: 'GET', url: '/metrics', headers: AUTH });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('gatelog_requests_total');
    expect(m.body).toContain('gatelog_request_duration_seconds');
    expect(m.body).toContain('gatelog_proxy_overhead_seconds');
  });
});

describe('upstream failures', () => {
  it.each([429, 500])('upstream %i with an OpenAI error body passes through and is recorded', async (status) => {
    const upstreamBody = { error: { message: `fake says ${status}`, type: status === 429 ? 'requests' : 'server_error', param: null, code: status === 429 ? 'rate_limit_exceeded' : null } };
    fake.behave({ error: { status, body: upstreamBody } });
    const res = await post('/v1/chat/completions', '{"model":"smart","stream":true,"messages":[{"role":"user","content":"x"}]}');
    expect(res.statusCode).toBe(status);
    expect(res.body).toBe(JSON.stringify(upstreamBody));
    expect(res.headers['x-request-id']).toBe('req_fake');
    const e = onlyEvent(res);
    expect(e).toMatchObject({
      status,
      outcome: 'error',
      error_type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
      error_message: `fake says ${status}`,
      response_body: JSON.stringify(upstreamBody),
      provider: 'fake',
    });
    expect(e.attempts[0]).toMatchObject({ status, error_class: `http_${status}` });
  });

  it('connection refused → 502 upstream_unavailable, recorded once (by the relay, not again as answered)', async () => {
    const res = await post('/v1/chat/completions', '{"model":"broken","messages":[{"role":"user","content":"x"}]}');
    const err = expectOpenAiError(res, 502, 'upstream_unavailable', 'upstream_error');
    expect(err.message).not.toContain(String(deadPort));
    const e = onlyEvent(res);
    expect(e).toMatchObject({ status: 502, outcome: 'error', error_type: 'upstream_unavailable', provider: 'dead' });
    expect(e.attempts[0]?.error_class).toBe('upstream_unavailable');
  });
});

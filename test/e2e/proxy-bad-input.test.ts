// Every bad input answered in the OpenAI error shape with the right status, master-key
// auth, and upstream failures (HTTP errors pass through; network errors become 502).
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

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"model": "smart",', 'invalid_json'],
    ['empty body', '', 'invalid_json'],
    ['body is an array', '[1,2]', 'invalid_body'],
    ['body is a string', '"hello"', 'invalid_body'],
    ['body is null', 'null', 'invalid_body'],
    ['missing model', '{"messages":[{"role":"user","content":"x"}]}', 'missing_model'],
    ['model not a string', '{"model":42,"messages":[{"role":"user","content":"x"}]}', 'missing_model'],
    ['missing messages', '{"model":"smart"}', 'invalid_messages'],
    ['empty messages', '{"model":"smart","messages":[]}', 'invalid_messages'],
    ['messages not an array', '{"model":"smart","messages":"hi"}', 'invalid_messages'],
  ])('%s → 400', async (_name, payload, code) => {
    const res = await post('/v1/chat/completions', payload);
    expectOpenAiError(res, 400, code);
    expect(fake.requests).toHaveLength(0);
  });

  it('missing input on embeddings → 400 with param', async () => {
    const err = expectOpenAiError(await post('/v1/embeddings', '{"model":"smart"}'), 400, 'missing_input');
    expect(err.param).toBe('input');
  });

  it('unknown model → 404 naming the model and the aliases, nothing secret', async () => {
    const err = expectOpenAiError(await post('/v1/chat/completions', '{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}'), 404, 'model_not_found');
    expect(err.message).toContain('gpt-9');
    expect(err.message).toContain('smart');
    expect(err.message).toContain('broken');
    expect(err.message).not.toMatch(/http|127\.0\.0\.1|sk-/);
    expect(err.param).toBe('model');
  });

  it('unknown provider in provider/model → 404', async () => {
    expectOpenAiError(await post('/v1/chat/completions', '{"model":"nope/gpt-4o","messages":[{"role":"user","content":"x"}]}'), 404, 'model_not_found');
  });

  it('body over the limit → 413', async () => {
    const big = JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
    expectOpenAiError(await post('/v1/chat/completions', big), 413, 'request_too_large');
  });

  it('wrong content type → 415', async () => {
    expectOpenAiError(await post('/v1/chat/completions', 'model=smart', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    expectOpenAiError(await post('/v1/chat/completions', '{}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  });

  it('unknown /v1 path or method → 404', async () => {
    expectOpenAiError(await post('/v1/nope', '{}'), 404, 'unknown_url');
    expectOpenAiError(await app.inject({ method: 'GET', url: '/v1/chat/completions', headers: AUTH }), 404, 'unknown_url');
    expectOpenAiError(await app.inject({ method: 'DELETE', url: '/v1/models/x', headers: AUTH }), 404, 'unknown_url');
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
  });

  it('x-api-key works; the client key never goes upstream', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: body, headers: { 'content-type': 'application/json', 'x-api-key': MASTER } });
    expect(res.statusCode).toBe(200);
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
    const e = events.find((x) => x.request_id === res.headers['x-gatelog-request-id'])!;
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

  it('connection refused → 502 upstream_unavailable, recorded', async () => {
    const res = await post('/v1/chat/completions', '{"model":"broken","messages":[{"role":"user","content":"x"}]}');
    const err = expectOpenAiError(res, 502, 'upstream_unavailable', 'upstream_error');
    expect(err.message).not.toContain(String(deadPort));
    const e = events.find((x) => x.request_id === res.headers['x-gatelog-request-id'])!;
    expect(e).toMatchObject({ status: 502, outcome: 'error', error_type: 'upstream_unavailable', provider: 'dead' });
    expect(e.attempts[0]?.error_class).toBe('upstream_unavailable');
  });
});

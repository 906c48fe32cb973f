// Feedback that reaches its call after its user was erased, against a real `gatelog start`
// (master key set, the retention sweep every second), with the calls made by the real OpenAI
// SDK. An application that keeps scoring after POST /admin/erase is told so: 409 `call_erased`
// by request id, and by a trace whose calls were all erased; so is a person or token at PUT
// /admin/calls/:id/feedback; another user's call still takes feedback. A trace with a call left
// takes it as before: never shown, and the sweep removes it. A legal hold placed over an erased
// call keeps the feedback it is given.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newVirtualKey, recordedCall } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);

let gl: GatelogProcess;
let key = '';

interface Feedback { request_id: string; trace_id: string; name: string; value: number; comment: string }

const http = (path: string, token: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });
const send = (body: unknown): Promise<Response> => http('/v1/feedback', key, { method: 'POST', body: JSON.stringify(body) });

/** One chat call through the OpenAI SDK; its x-gatelog-request-id. */
async function call(headers: Record<string, string>): Promise<string> {
  const openai = new OpenAI({ apiKey: key, baseURL: `${gl.url}/v1`, defaultHeaders: headers, maxRetries: 0 });
  const r = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
  return r.response.headers.get('x-gatelog-request-id')!;
}

/** The call as GET /admin/calls/:id shows it once ingest stored it. */
const stored = (id: string): Promise<{ user: string; feedback: Feedback[] }> => recordedCall(gl, MASTER, id);

/** The rows the sweep reported removing from erased calls so far. */
const sweptRows = (): number =>
  [...gl.logs().matchAll(/"rows":(\d+)[^\n]*removed feedback on erased calls/g)].reduce((n, m) => n + Number(m[1]), 0);

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      retention: { sweep_ms: 1000 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
    },
    timeoutMs: 60_000,
  });
  key = await newVirtualKey(gl.url, MASTER, `fb-erase-${tag}`, `red-${tag}`);
}, 120_000);

afterAll(async () => {
  await gl?.stop();
});

const erase = async (user: string): Promise<void> => {
  const r = await http('/admin/erase', MASTER, { method: 'POST', body: JSON.stringify({ user }) });
  expect(r.status, await r.clone().text()).toBe(200);
};

async function expectErased(r: Response, param: string): Promise<void> {
  expect(r.status, await r.clone().text()).toBe(409);
  expect(await r.json()).toEqual({ error: { message: expect.stringContaining('erased') as unknown, type: 'invalid_request_error', code: 'call_erased', param } });
}

describe('feedback after an erasure', () => {
  it('is refused with 409 call_erased on an erased call and on a trace whose calls were all erased; another user\'s is taken', async () => {
    const [user, other, trace] = [`erased-${randomUUID()}`, `kept-${randomUUID()}`, `trace-${randomUUID()}`];
    const id = await call({ 'x-gatelog-user': user, 'x-gatelog-trace-id': trace });
    const keptId = await call({ 'x-gatelog-user': other });
    expect((await stored(id)).user).toBe(user);
    await stored(keptId);
    await erase(user);

    // The application does not know of the erasure and keeps scoring: it is told.
    await expectErased(await send({ request_id: id, value: -3, comment: `my email is ${user}@example.com` }), 'request_id');
    await expectErased(await send({ request_id: id.toUpperCase(), value: 1 }), 'request_id');
    await expectErased(await send({ trace_id: trace, value: -1, name: 'conversation', comment: 'it was about my divorce' }), 'trace_id');
    await expectErased(await http(`/admin/calls/${id}/feedback`, MASTER, { method: 'PUT', body: JSON.stringify({ value: -1, comment: 'reviewed' }) }), 'id');
    const kept = await send({ request_id: keptId, value: 2, comment: 'helpful' });
    expect(kept.status, await kept.clone().text()).toBe(200);
    expect((await stored(id)).feedback).toEqual([]);
    expect((await stored(keptId)).feedback).toMatchObject([{ value: 2, comment: 'helpful' }]);
  }, 60_000);

  it('a trace with a call left takes it as before: never shown, and the sweep removes it', async () => {
    const [user, other, trace] = [`erased-${randomUUID()}`, `kept-${randomUUID()}`, `trace-${randomUUID()}`];
    const id = await call({ 'x-gatelog-user': user, 'x-gatelog-trace-id': trace });
    const keptId = await call({ 'x-gatelog-user': other, 'x-gatelog-trace-id': trace });
    await Promise.all([stored(id), stored(keptId)]);
    await erase(user);
    const swept = sweptRows();
    const r = await send({ trace_id: trace, value: -1, name: 'conversation', comment: 'it was about my divorce' });
    expect(r.status, await r.clone().text()).toBe(200);
    expect((await stored(id)).feedback).toEqual([]);
    expect((await stored(keptId)).feedback).toEqual([]);

    // The sweep (every second here) removes the row from the store.
    for (let i = 0; i < 300 && sweptRows() < swept + 1; i++) await new Promise((res) => setTimeout(res, 100));
    expect(sweptRows() - swept, gl.logs()).toBe(1);
  }, 60_000);

  it('a legal hold placed over an erased call keeps the feedback it is then given', async () => {
    const [user, trace] = [`erased-${randomUUID()}`, `held-${randomUUID()}`];
    const id = await call({ 'x-gatelog-user': user, 'x-gatelog-trace-id': trace });
    await stored(id);
    await erase(user);
    await expectErased(await send({ request_id: id, value: 1 }), 'request_id');
    const hold = await http('/admin/holds', MASTER, { method: 'POST', body: JSON.stringify({ kind: 'trace', value: trace, reason: 'case 2026-31' }) });
    expect(hold.status, await hold.clone().text()).toBe(201);
    for (const r of [
      await send({ request_id: id, value: -2, comment: 'kept for the case' }),
      await http(`/admin/calls/${id}/feedback`, MASTER, { method: 'PUT', body: JSON.stringify({ value: 1, name: 'review' }) }),
    ]) expect(r.status, await r.clone().text()).toBe(200);
    expect((await stored(id)).feedback.map((f) => [f.name, f.value]).sort()).toEqual([['feedback', -2], ['review', 1]]);
  }, 60_000);
});

// Feedback that arrives after its user was erased, against a real `gatelog start` (master key
// set, the retention sweep every second), with the call made by the real OpenAI SDK: an
// application keeps scoring a call (by request id and by trace) after POST /admin/erase erased
// its user; GET /admin/calls/:id never shows those comments, and the sweep removes them from the
// store, while another user's feedback on the same key stays.
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

describe('feedback after an erasure', () => {
  it('a comment sent after the user was erased is never shown and the sweep removes it; another user\'s stays', async () => {
    const [user, other, trace] = [`erased-${randomUUID()}`, `kept-${randomUUID()}`, `trace-${randomUUID()}`];
    const id = await call({ 'x-gatelog-user': user, 'x-gatelog-trace-id': trace });
    const keptId = await call({ 'x-gatelog-user': other });
    expect((await stored(id)).user).toBe(user);
    await stored(keptId);
    const erased = await http('/admin/erase', MASTER, { method: 'POST', body: JSON.stringify({ user }) });
    expect(erased.status, await erased.clone().text()).toBe(200);
    expect(await erased.json()).toMatchObject({ rows: 1, feedback: 0 });

    // The application does not know of the erasure and keeps scoring.
    const swept = sweptRows();
    for (const body of [
      { request_id: id, value: -3, comment: `my email is ${user}@example.com` },
      { trace_id: trace, value: -1, name: 'conversation', comment: 'it was about my divorce' },
      { request_id: keptId, value: 2, comment: 'helpful' },
    ]) {
      const r = await send(body);
      expect(r.status, await r.clone().text()).toBe(200);
    }
    expect((await stored(id)).feedback).toEqual([]);
    expect((await stored(keptId)).feedback).toMatchObject([{ value: 2, comment: 'helpful' }]);

    // The sweep (every second here) removes both rows from the store.
    for (let i = 0; i < 300 && sweptRows() < swept + 2; i++) await new Promise((res) => setTimeout(res, 100));
    expect(sweptRows() - swept, gl.logs()).toBe(2);
    expect((await stored(id)).feedback).toEqual([]);
    expect((await stored(keptId)).feedback).toMatchObject([{ value: 2, comment: 'helpful' }]);
  }, 60_000);
});

// Feedback and scores on recorded calls against a real `gatelog start` (master key set), with the
// scored calls made by the real OpenAI SDK: a key scores its own call the moment it answered
// (before ingest stored it) and the score shows in GET /admin/calls/:id and the `feedback`
// filter; another key of the same team, or of another team, naming that call gets exactly the
// answer a made-up id gets, and nothing attaches; Portkey's trace_id shape; bad inputs are 400s
// with stable codes; people write through PUT /admin/calls/:id/feedback by role and team scope
// (viewer 403, another team's analyst 404), one audit row per write; erasure by user removes the
// feedback and its receipt counts it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newMachineToken, newVirtualKey, recordedCall } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;

let gl: GatelogProcess;
const keys: Record<string, string> = {};

interface Feedback { request_id: string; trace_id: string; name: string; by: string; value: number; weight: number; comment: string; metadata: Record<string, string>; source: string }
interface ApiError { error: { message: string; type: string; param: string | null; code: string } }

const http = (path: string, token: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });
const send = (token: string, body: unknown): Promise<Response> => http('/v1/feedback', token, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
const mark = (id: string, token: string, body: unknown): Promise<Response> => http(`/admin/calls/${id}/feedback`, token, { method: 'PUT', body: JSON.stringify(body) });

const newKey = (name: string, team: string): Promise<string> => newVirtualKey(gl.url, MASTER, `${name}-${tag}`, team);
const token = (role: string, teams: string[] = []): Promise<string> => newMachineToken(gl.url, MASTER, role, teams);

/** One chat call by `key` through the OpenAI SDK; its x-gatelog-request-id. */
async function call(key: string, headers: Record<string, string> = {}): Promise<string> {
  const openai = new OpenAI({ apiKey: keys[key], baseURL: `${gl.url}/v1`, defaultHeaders: headers, maxRetries: 0 });
  const r = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: `hello from ${key}` }] }).withResponse();
  return r.response.headers.get('x-gatelog-request-id')!;
}

/** The call as GET /admin/calls/:id shows it once ingest stored it. */
const stored = (id: string): Promise<{ user: string; feedback: Feedback[] }> => recordedCall(gl, MASTER, id);

const listIds = async (query: string): Promise<string[]> => {
  const r = await http(`/admin/calls?${query}&limit=500`, MASTER);
  expect(r.status, await r.clone().text()).toBe(200);
  return ((await r.json()) as { data: { request_id: string }[] }).data.map((x) => x.request_id);
};

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: { ingest: { batch_ms: 50 }, providers: { mock: { kind: 'mock' } }, models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }] },
    timeoutMs: 60_000,
  });
  [keys['red1'], keys['red2'], keys['blue']] = await Promise.all([newKey('red1', RED), newKey('red2', RED), newKey('blue', BLUE)]);
}, 120_000);

afterAll(async () => {
  await gl?.stop();
});

describe('POST /v1/feedback', () => {
  it('a key scores its own call right after it answered; the score shows in the call and the feedback filter', async () => {
    const id = await call('red1');
    // At once: ingest has not stored the call yet (batches every 50 ms, ~1 s end to end).
    const r = await send(keys['red1']!, { request_id: id, value: -1, comment: 'made up a refund policy', name: 'thumbs' });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await r.json()).toMatchObject({ object: 'feedback', status: 'success', request_id: id, name: 'thumbs', value: -1 });
    const got = await stored(id);
    expect(got.feedback).toMatchObject([{ name: 'thumbs', value: -1, comment: 'made up a refund policy', source: 'api', request_id: id }]);
    // Re-rating replaces the key's earlier value of the same name.
    await send(keys['red1']!, { request_id: id, value: -2, name: 'thumbs' });
    expect((await stored(id)).feedback.map((f) => f.value)).toEqual([-2]);

    const other = await call('red1');
    await stored(other);
    expect(await listIds(`team=${RED}&feedback=negative`)).toContain(id);
    expect(await listIds(`team=${RED}&feedback=negative`)).not.toContain(other);
    expect(await listIds(`team=${RED}&feedback=positive`)).not.toContain(id);
    expect(await listIds(`team=${RED}&feedback=none`)).toEqual(expect.arrayContaining([other]));
    expect(await listIds(`team=${RED}&feedback=none`)).not.toContain(id);
    const rows = ((await (await http(`/admin/calls?team=${RED}&feedback=any`, MASTER)).json()) as { data: { request_id: string; feedback: unknown }[] }).data;
    expect(rows.find((x) => x.request_id === id)?.feedback).toEqual({ count: 1, min: -2, avg: -2 });
    // Exports take the same filter.
    const exported = await (await http(`/admin/export?format=jsonl&team=${RED}&feedback=negative`, MASTER)).text();
    expect(exported).toContain(id);
    expect(exported).not.toContain(other);
    // A misspelt or unknown value is a 400 naming it, never a wider list.
    const bad = await http(`/admin/calls?feedback=bad`, MASTER);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ApiError).error.param).toBe('feedback');
  });

  it('another key of the team, or another team\'s key, gets the answer a made-up id gets, and nothing attaches', async () => {
    const id = await call('red1');
    await stored(id);
    const answer = async (key: string, rid: string): Promise<[number, unknown]> => {
      const r = await send(keys[key]!, { request_id: rid, value: -10, comment: 'sabotage' });
      const body = (await r.json()) as Record<string, unknown>;
      return [r.status, { ...body, request_id: 'ID', by: 'BY' }];
    };
    const madeUp = await answer('red2', randomUUID());
    expect(madeUp[0]).toBe(200);
    expect(await answer('red2', id)).toEqual(madeUp);
    expect(await answer('blue', id)).toEqual(madeUp);
    expect((await stored(id)).feedback).toEqual([]);
    expect(await listIds(`team=${RED}&feedback=any`)).not.toContain(id);
  });

  it('takes Portkey\'s shape: trace_id, value −10..10, weight and metadata', async () => {
    const trace = `trace-${randomUUID()}`;
    const id = await call('red1', { 'x-gatelog-trace-id': trace });
    const r = await send(keys['red1']!, { trace_id: trace, value: 7, weight: 0.5, metadata: { user_id: 'end-user-1', app: 'web' } });
    expect(r.status, await r.clone().text()).toBe(200);
    // Another team's key naming the same trace id attaches nothing to this key's calls.
    expect((await send(keys['blue']!, { trace_id: trace, value: -9 })).status).toBe(200);
    const got = await stored(id);
    expect(got.feedback).toMatchObject([{ trace_id: trace, request_id: '', name: 'feedback', value: 7, weight: 0.5, metadata: { user_id: 'end-user-1', app: 'web' } }]);
    expect(await listIds(`trace=${trace}&feedback=positive`)).toEqual([id]);
  });

  it('answers bad input with 400 in OpenAI\'s error shape and a stable code', async () => {
    const id = randomUUID();
    const cases: [unknown, string, string | null][] = [
      [{ request_id: id, value: 11 }, 'value_out_of_range', 'value'],
      [{ request_id: id, value: 'NaN' }, 'invalid_value', 'value'],
      [`{"request_id":"${id}","value":NaN}`, 'invalid_json', null],
      ['not json at all', 'invalid_json', null],
      [[1, 2], 'invalid_body', null],
      [{ request_id: id, value: 1, name: 'n'.repeat(65) }, 'invalid_name', 'name'],
      [{ request_id: id, value: 1, comment: 'c'.repeat(4097) }, 'comment_too_long', 'comment'],
      [{ value: 1 }, 'missing_id', 'request_id'],
      [{ request_id: 'abc', value: 1 }, 'invalid_request_id', 'request_id'],
      [{ request_id: id, value: 1, weight: 3 }, 'invalid_weight', 'weight'],
      [{ request_id: id, value: 1, metadata: { n: 1 } }, 'invalid_metadata', 'metadata.n'],
      [{ request_id: id, value: 1, rating: true }, 'unknown_parameter', 'rating'],
    ];
    for (const [body, code, param] of cases) {
      const r = await send(keys['red1']!, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect((await r.json()) as ApiError).toMatchObject({ error: { type: 'invalid_request_error', code, param } });
    }
    // No key: 401; the master key made no call to score: 403.
    const none = await fetch(`${gl.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ request_id: id, value: 1 }) });
    expect(none.status).toBe(401);
    const master = await send(MASTER, { request_id: id, value: 1 });
    expect(master.status).toBe(403);
    expect(((await master.json()) as ApiError).error.code).toBe('virtual_key_required');
  });
});

describe('a key flooding feedback', () => {
  // Whether the flood outruns the store here depends on this machine's speed (the cap itself is
  // tested in core/src/store/feedback.test.ts): every answer is a 200 or a 429 in OpenAI's shape
  // with Retry-After, and the other key's feedback is stored meanwhile.
  it('is answered 200 or 429 with Retry-After, while another key\'s feedback is stored', async () => {
    const flood = await newKey('flood', RED);
    const calm = await call('blue');
    const sends = Array.from({ length: 400 }, () => send(flood, { trace_id: `flood-${tag}`, value: 1, name: `n${randomUUID().slice(0, 8)}` }));
    const calmWrite = send(keys['blue']!, { request_id: calm, value: 3, name: 'calm' });
    const answers = await Promise.all(sends);
    expect(answers.map((r) => r.status).filter((x) => x !== 200 && x !== 429)).toEqual([]);
    for (const r of answers.filter((x) => x.status === 429)) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(((await r.json()) as ApiError).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    }
    expect((await calmWrite).status).toBe(200);
    expect((await stored(calm)).feedback).toMatchObject([{ name: 'calm', value: 3 }]);
  });
});

describe('PUT /admin/calls/:id/feedback', () => {
  it('lets roles that may mark calls do so on calls they can see, audited once per write; viewers read values only', async () => {
    const id = await call('red1');
    await stored(id);
    const [viewer, blueAnalyst, analyst] = await Promise.all([token('viewer'), token('analyst', [BLUE]), token('analyst')]);
    const viewerWrite = await mark(id, viewer, { value: 1 });
    expect(viewerWrite.status).toBe(403);
    expect(((await viewerWrite.json()) as ApiError).error.code).toBe('role_forbidden');
    // Another team's analyst: the call does not exist for it (as a made-up id).
    const scoped = await mark(id, blueAnalyst, { value: -1 });
    const absent = await mark(randomUUID(), blueAnalyst, { value: -1 });
    expect([scoped.status, absent.status]).toEqual([404, 404]);
    expect(((await scoped.json()) as ApiError).error.code).toBe(((await absent.json()) as ApiError).error.code);
    expect((await mark(id, analyst, { value: -1, comment: 'x'.repeat(4097) })).status).toBe(400);

    const ok = await mark(id, analyst, { value: -1, comment: 'wrong currency', name: 'review' });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const got = await stored(id);
    expect(got.feedback).toMatchObject([{ name: 'review', value: -1, comment: 'wrong currency', source: 'ui' }]);
    expect(got.feedback[0]?.by).toMatch(/^token:/);
    const audit = (await (await http('/admin/audit?action=calls.feedback&limit=500', MASTER)).json()) as { data: { target: string; details: string; role: string }[] };
    const rows = audit.data.filter((r) => r.target === id);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.details)).toEqual({ name: 'review', value: -1, comment: true });
    expect(rows[0]!.details).not.toContain('wrong currency');
    // A viewer lists the call with its feedback in brief, never a comment; the call itself needs bodies.read.
    const listed = await http(`/admin/calls?team=${RED}&feedback=negative`, viewer);
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(text).toContain(id);
    expect(text).not.toContain('wrong currency');
    expect((await http(`/admin/calls/${id}`, viewer)).status).toBe(403);
  });
});

describe('erasure', () => {
  it('erasing a user removes the feedback on their calls and the receipt counts it', async () => {
    const user = `erase-${randomUUID()}`;
    const id = await call('red1', { 'x-gatelog-user': user });
    await send(keys['red1']!, { request_id: id, value: -3, comment: `my email is ${user}@example.com` });
    expect((await stored(id)).user).toBe(user);
    expect((await mark(id, MASTER, { value: 1, comment: 'fine by me' })).status).toBe(200);
    expect((await stored(id)).feedback).toHaveLength(2);
    const r = await http('/admin/erase', MASTER, { method: 'POST', body: JSON.stringify({ user }) });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await r.json()).toMatchObject({ rows: 1, feedback: 2 });
    expect((await stored(id)).feedback).toEqual([]);
  });
});

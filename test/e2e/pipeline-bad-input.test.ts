// Bad input through the whole embedded pipeline: a gatelog process (`gatelog start`) answers
// malformed JSON, missing fields, unknown aliases, oversized bodies and wrong content types on
// the OpenAI and Anthropic surfaces as it always did, and each of those calls lands in
// ClickHouse exactly once as a refused call, with the virtual key that sent it. Authentication
// failures and non-model routes land nowhere; a rate-limit refusal and normal calls land once.
//
// Rows are read without FINAL after a clean stop that drains the event log into ClickHouse (chDB
// allows one on-disk path per process, so the store is opened then). ClickHouse collapses
// duplicates that arrive in one insert, so the event log itself is counted too.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallDetail, LocalLogReader, openStore, type Store } from '@gatelog/core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'gl-master-bad-input-pipeline-0123';
/** Every call of this file carries it: anything recorded by mistake would carry it too. */
const TRACE = `bad-input-${crypto.randomUUID()}`;

const CONFIG = {
  server: { body_limit: 2048 },
  providers: { mock: { kind: 'mock' } },
  models: [{ name: 'fast', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
  ingest: { batch_ms: 50 },
};

interface Created {
  key: { id: string; name: string; team: string };
  secret: string;
}

interface Answered {
  status: number;
  id: string;
  /** The error's type and message as the client read them. */
  type: string;
  message: string;
  text: string;
}

interface Expected {
  name: string;
  answered: Answered;
  fields: Partial<CallDetail>;
}

let gl: GatelogProcess;
let store: Store | undefined;
let app: Created;
let limited: Created;
const expected: Expected[] = [];
/** Calls that must land exactly once with these fields (normal calls, governance refusals). */
const relayed: { name: string; id: string; fields: Partial<CallDetail> }[] = [];
/** Calls that must land nowhere. */
const unrecorded: { name: string; id: string }[] = [];
let rows = new Map<string, CallDetail[]>();
const logged = new Map<string, number>();

async function send(path: string, body: string, headers: Record<string, string>, method = 'POST'): Promise<Answered> {
  const res = await fetch(`${gl.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-gatelog-trace-id': TRACE, ...headers },
    ...(method === 'POST' ? { body } : {}),
  });
  const text = await res.text();
  const id = res.headers.get('x-gatelog-request-id') ?? '';
  expect(id, text).toMatch(/^[0-9a-f-]{36}$/);
  let type = '';
  let message = '';
  if (res.status >= 400) {
    const err = (JSON.parse(text) as { error: { type: string; message: string } }).error;
    ({ type, message } = err);
  }
  return { status: res.status, id, type, message, text };
}

async function createKey(fields: Record<string, unknown>): Promise<Created> {
  const res = await fetch(`${gl.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Created;
}

const big = (extra: Record<string, unknown>): string => JSON.stringify({ model: 'fast', ...extra, messages: [{ role: 'user', content: 'x'.repeat(4096) }] });

beforeAll(async () => {
  gl = await startGatelog({ config: CONFIG, env: { GATELOG_MASTER_KEY: MASTER } });
  app = await createKey({ name: 'bad-input-app', team: 'search' });
  limited = await createKey({ name: 'bad-input-limited', team: 'search', rpm: 1 });
  const openai = { authorization: `Bearer ${app.secret}` };
  const anthropic = { 'x-api-key': app.secret, 'anthropic-version': '2023-06-01' };

  // OpenAI surface: [name, path, body, headers, status, code in the body, requested_model, stored body]
  const openAiCases: [string, string, string, Record<string, string>, number, string, string, string][] = [
    ['malformed JSON', '/v1/chat/completions', '{"model":"fast",', {}, 400, 'invalid_json', '', '{"model":"fast",'],
    ['missing model', '/v1/chat/completions', '{"messages":[{"role":"user","content":"hi"}]}', {}, 400, 'missing_model', '', '{"messages":[{"role":"user","content":"hi"}]}'],
    ['missing messages', '/v1/chat/completions', '{"model":"fast"}', {}, 400, 'invalid_messages', 'fast', '{"model":"fast"}'],
    ['missing input', '/v1/embeddings', '{"model":"fast"}', {}, 400, 'missing_input', 'fast', '{"model":"fast"}'],
    ['unknown model alias', '/v1/chat/completions', '{"model":"gpt-nope","messages":[{"role":"user","content":"hi"}]}', {}, 404, 'model_not_found', 'gpt-nope', '{"model":"gpt-nope","messages":[{"role":"user","content":"hi"}]}'],
    ['body over the limit', '/v1/chat/completions', big({}), {}, 413, 'request_too_large', '', ''],
    ['wrong content type', '/v1/chat/completions', '{"model":"fast"}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type', '', ''],
    // Refused by the deployment's adapter before anything is sent (the mock has no Responses API).
    ['API the deployment lacks', '/v1/responses', '{"model":"fast","input":"hi"}', {}, 400, 'unsupported_api', 'fast', '{"model":"fast","input":"hi"}'],
  ];
  for (const [name, path, body, headers, status, code, model, stored] of openAiCases) {
    const a = await send(path, body, { ...openai, ...headers });
    expect(a.status, `${name}: ${a.text}`).toBe(status);
    expect((JSON.parse(a.text) as { error: { code: string } }).error.code).toBe(code);
    expected.push({ name: `OpenAI: ${name}`, answered: a, fields: { endpoint: path, requested_model: model, request_body: stored } });
  }

  // Anthropic surface: [name, body, headers, status, error type, requested_model, stored body]
  const anthropicCases: [string, string, Record<string, string>, number, string, string, string][] = [
    ['malformed JSON', '{"model":"fast",', {}, 400, 'invalid_request_error', '', '{"model":"fast",'],
    ['missing model', '{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}', {}, 400, 'invalid_request_error', '', '{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'],
    ['missing messages', '{"model":"fast","max_tokens":5}', {}, 400, 'invalid_request_error', 'fast', '{"model":"fast","max_tokens":5}'],
    ['missing max_tokens', '{"model":"fast","messages":[{"role":"user","content":"hi"}]}', {}, 400, 'invalid_request_error', 'fast', '{"model":"fast","messages":[{"role":"user","content":"hi"}]}'],
    ['unknown model alias', '{"model":"claude-nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}', {}, 404, 'not_found_error', 'claude-nope', '{"model":"claude-nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'],
    ['body over the limit', big({ max_tokens: 5 }), {}, 413, 'request_too_large', '', ''],
    ['wrong content type', '{"model":"fast"}', { 'content-type': 'text/plain' }, 415, 'invalid_request_error', '', ''],
  ];
  for (const [name, body, headers, status, type, model, stored] of anthropicCases) {
    const a = await send('/v1/messages', body, { ...anthropic, ...headers });
    expect(a.status, `${name}: ${a.text}`).toBe(status);
    expect(JSON.parse(a.text)).toEqual({ type: 'error', error: { type, message: a.message } });
    expected.push({ name: `Anthropic: ${name}`, answered: a, fields: { endpoint: '/v1/messages', requested_model: model, request_body: stored } });
  }

  // count_tokens is a model call like /v1/messages: its errors are recorded too.
  const counted = await send('/v1/messages/count_tokens', '{"model":"fast",', anthropic);
  expect(counted.status, counted.text).toBe(400);
  expected.push({ name: 'Anthropic: bad token count', answered: counted, fields: { endpoint: '/v1/messages/count_tokens', requested_model: '', request_body: '{"model":"fast",' } });

  // Never recorded: authentication failures (bad body or not), non-model routes.
  const bad = '{"model":"fast",';
  const ok = '{"model":"fast","messages":[{"role":"user","content":"hi"}]}';
  const notRecorded: [string, string, string, Record<string, string>, number, string?][] = [
    ['wrong master key', '/v1/chat/completions', ok, { authorization: 'Bearer gl-master-wrong' }, 401],
    ['wrong master key, bad body', '/v1/chat/completions', bad, { authorization: 'Bearer gl-master-wrong' }, 401],
    ['wrong virtual key', '/v1/chat/completions', ok, { authorization: 'Bearer gl-AAAAunknownKEY000000000000000000000000000001' }, 401],
    ['wrong virtual key, body over the limit', '/v1/chat/completions', big({}), { authorization: 'Bearer gl-AAAAunknownKEY000000000000000000000000000001' }, 401],
    ['wrong key, Anthropic', '/v1/messages', bad, { 'x-api-key': 'gl-AAAAunknownKEY000000000000000000000000000002' }, 401],
    ['no key, wrong content type', '/v1/messages', 'x', { 'content-type': 'text/plain' }, 401],
    ['unknown URL', '/v1/nope', ok, openai, 404],
    ['listing models', '/v1/models', '', openai, 200, 'GET'],
  ];
  for (const [name, path, body, headers, status, method] of notRecorded) {
    const a = await send(path, body, headers, method);
    expect(a.status, `${name}: ${a.text}`).toBe(status);
    unrecorded.push({ name, id: a.id });
  }

  // Recorded once by the relay or governance, never again as an answered error.
  const first = await send('/v1/chat/completions', ok, { authorization: `Bearer ${limited.secret}` });
  expect(first.status, first.text).toBe(200);
  relayed.push({ name: 'admitted call', id: first.id, fields: { outcome: 'success', status: 200, key_id: limited.key.id, provider: 'mock' } });
  const second = await send('/v1/chat/completions', ok, { authorization: `Bearer ${limited.secret}` });
  expect(second.status, second.text).toBe(429);
  relayed.push({ name: 'rate-limit refusal', id: second.id, fields: { outcome: 'refused', status: 429, key_id: limited.key.id, error_type: 'rate_limit_exceeded', provider: 'mock' } });
  const chat = await send('/v1/chat/completions', ok, openai);
  expect(chat.status, chat.text).toBe(200);
  relayed.push({ name: 'OpenAI call', id: chat.id, fields: { outcome: 'success', status: 200, key_id: app.key.id, endpoint: '/v1/chat/completions' } });
  const msg = await send('/v1/messages', '{"model":"fast","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}', anthropic);
  expect(msg.status, msg.text).toBe(200);
  relayed.push({ name: 'Anthropic call', id: msg.id, fields: { outcome: 'success', status: 200, key_id: app.key.id, endpoint: '/v1/messages' } });

  // A clean stop drains the event log into ClickHouse before exiting.
  await gl.stop();
  expect(gl.proc.exitCode, gl.logs()).toBe(0);

  for (const r of new LocalLogReader(join(gl.dataDir, 'events')).read(0, 100_000).records) {
    const e = JSON.parse(r.toString('utf8')) as { request_id: string; trace_id: string };
    if (e.trace_id === TRACE) logged.set(e.request_id, (logged.get(e.request_id) ?? 0) + 1);
  }
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, gl.dataDir);
  const rs = await store.client.query({
    query: 'SELECT * EXCEPT (schema_version) FROM gatelog.llm_calls WHERE trace_id = {trace:String}',
    query_params: { trace: TRACE },
    format: 'JSONEachRow',
  });
  rows = new Map();
  for (const row of (await rs.json()).map((r) => CallDetail.parse(r))) rows.set(row.request_id, [...(rows.get(row.request_id) ?? []), row]);
}, 120_000);

afterAll(async () => {
  await store?.close();
  if (gl) {
    await gl.stop();
    rmSync(gl.dataDir, { recursive: true, force: true });
  }
});

describe('bad input → ClickHouse', () => {
  it('each bad input lands exactly once, as a refused call with what the client sent and got', () => {
    expect(expected).toHaveLength(16);
    for (const { name, answered, fields } of expected) {
      const found = rows.get(answered.id) ?? [];
      expect(found, name).toHaveLength(1);
      expect(logged.get(answered.id), name).toBe(1);
      expect(found[0], name).toMatchObject({
        status: answered.status,
        outcome: 'refused',
        error_type: answered.type,
        error_message: answered.message,
        cost_usd: 0,
        attempts: [],
        provider: '',
        deployment_model: '',
        upstream_model: '',
        response_body: '',
        key_id: app.key.id,
        key_name: 'bad-input-app',
        team: 'search',
        trace_id: TRACE,
        ...fields,
      });
      expect(found[0]!.request_bytes, name).toBe(Buffer.byteLength(found[0]!.request_body));
    }
  });

  it('authentication failures and non-model routes land nowhere', () => {
    expect(unrecorded.length).toBeGreaterThan(0);
    for (const { name, id } of unrecorded) {
      expect(rows.get(id), name).toBeUndefined();
      expect(logged.get(id), name).toBeUndefined();
    }
  });

  it('normal calls and a governance refusal land exactly once', () => {
    for (const { name, id, fields } of relayed) {
      expect(rows.get(id) ?? [], name).toHaveLength(1);
      expect(logged.get(id), name).toBe(1);
      expect(rows.get(id)![0], name).toMatchObject(fields);
    }
  });

  it('nothing else carries the trace, and no secret is stored', () => {
    expect(rows.size).toBe(expected.length + relayed.length);
    expect(logged.size).toBe(expected.length + relayed.length);
    const all = JSON.stringify([...rows.values()]);
    for (const secret of [MASTER, app.secret, limited.secret]) expect(all.includes(secret.slice(3))).toBe(false);
  });
});

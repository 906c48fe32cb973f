// OpenAI batch jobs through gatelog with the real `openai` SDK against a real gatelog process and
// a fake OpenAI Files/Batches upstream: uploads name gatelog aliases, rewritten to the upstream
// model before the file goes upstream; the key's allow-list, one batch-capable provider and the
// size caps are enforced at upload; objects are a team's own (another team gets OpenAI's 404 on
// every id and never sees them listed); a completed batch's lines are recorded as calls once
// each (after a second retrieve, and after a restart), at the Batch API's price, with the
// creator's key and team, failed lines as error calls.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { openStore } from '@gatelog/core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith, recordedCall } from '../support/admin-setup.ts';
import { BATCH_USAGE, FAIL_MARKER, startFakeBatches, type FakeBatches } from '../support/fake-openai-batches.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
/** USD per million tokens of the upstream model, so the recorded price can be checked exactly. */
const PRICE = { input: 1, output: 2 };
const FULL_PRICE = (BATCH_USAGE.prompt_tokens * PRICE.input + BATCH_USAGE.completion_tokens * PRICE.output) / 1e6;

let up: FakeBatches;
let gl: GatelogProcess;
const keys = { a: '', a2: '', b: '', limited: '' };

const config = (): object => ({
  ingest: { batch_ms: 50 },
  providers: {
    oai: { kind: 'openai', base_url: '', api_key: 'sk-test-batches-000000000000000' },
    mock: { kind: 'mock' },
    ant: { kind: 'anthropic', base_url: 'http://127.0.0.1:9', api_key: 'sk-ant-test-0000000000000000' },
    az: { kind: 'azure', base_url: '', api_key: 'az-test-batches-0000000000000000' },
  },
  models: [
    // Two aliases of one upstream model: each line's alias is put back in its record.
    { name: 'cheap', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
    { name: 'cheap-too', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
    { name: 'mocked', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
    { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-haiku-latest' }] },
    { name: 'az-mini', deployments: [{ provider: 'az', model: 'mini-deployment' }] },
    { name: 'private', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
  ],
  // Prompts of `private` reach the provider redacted, in a batch as in a live call.
  redaction: { aliases: { private: 'forward' } },
  pricing: [{ provider: 'oai', model: 'gpt-4o-mini', ...PRICE }],
});

/** The config with the providers pointed at the fake. */
function upstreamConfig(): { providers: { oai: { base_url: string }; az: { base_url: string } } } {
  const c = config() as { providers: { oai: { base_url: string }; az: { base_url: string } } };
  c.providers.oai.base_url = up.baseUrl;
  c.providers.az.base_url = up.url;
  return c;
}

const client = (apiKey: string): OpenAI => new OpenAI({ apiKey, baseURL: `${gl.url}/v1`, maxRetries: 0 });

const line = (customId: string, model: string, text = `question ${customId}`): string =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: text }], max_tokens: 50 } });

const upload = async (apiKey: string, lines: string[], purpose: 'batch' | 'fine-tune' = 'batch') =>
  client(apiKey).files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), `in-${tag}.jsonl`, { type: 'application/jsonl' }), purpose });

/** The SDK's error as [status, code, message]. */
async function refused(p: Promise<unknown>): Promise<[number, string, string]> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(OpenAI.APIError);
  const a = e as InstanceType<typeof OpenAI.APIError>;
  return [a.status ?? 0, String(a.code), a.message];
}

interface ListedCall {
  request_id: string;
  requested_model: string;
  team: string;
  key_id: string;
  status: number;
  outcome: string;
  error_type: string;
  cost_usd: number | null;
}

async function batchCalls(batchId: string): Promise<ListedCall[]> {
  const r = await fetch(`${gl.url}/admin/calls?limit=100&tags=${encodeURIComponent(`gatelog.batch=${batchId}`)}`, { headers: { authorization: `Bearer ${MASTER}` } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { data: ListedCall[] }).data;
}

async function waitForCalls(batchId: string, n: number): Promise<ListedCall[]> {
  for (let i = 0; i < 200; i++) {
    const calls = await batchCalls(batchId);
    if (calls.length >= n) return calls;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`batch ${batchId} was not recorded:\n${gl.logs().slice(-4000)}`);
}

async function keyId(secretPrefix: string): Promise<string> {
  const r = await fetch(`${gl.url}/admin/keys`, { headers: { authorization: `Bearer ${MASTER}` } });
  const all = ((await r.json()) as { data: { id: string; name: string }[] }).data;
  return all.find((k) => k.name === secretPrefix)!.id;
}

beforeAll(async () => {
  up = await startFakeBatches();
  gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: upstreamConfig(), timeoutMs: 60_000 });
  keys.a = await newKeyWith(gl.url, MASTER, { name: `a-${tag}`, team: `team-a-${tag}` });
  keys.a2 = await newKeyWith(gl.url, MASTER, { name: `a2-${tag}`, team: `team-a-${tag}` });
  keys.b = await newKeyWith(gl.url, MASTER, { name: `b-${tag}`, team: `team-b-${tag}` });
  keys.limited = await newKeyWith(gl.url, MASTER, { name: `limited-${tag}`, team: `team-a-${tag}`, models: ['cheap'] });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

/** Team A's batch of the first test, for the others. */
const made = { fileId: '', batchId: '', outputId: '' };

describe('OpenAI batch jobs through gatelog', () => {
  it('uploads with aliases rewritten upstream, runs the batch, and records each line once as a batch-priced call of the creator', async () => {
    const a = client(keys.a);
    const file = await upload(keys.a, [line('r1', 'cheap'), line('r2', 'cheap-too'), line('r3', 'cheap', `please ${FAIL_MARKER}`)]);
    expect(file).toMatchObject({ object: 'file', purpose: 'batch' });
    const sent = up.requests.find((r) => r.upload)!.upload!;
    expect(sent.purpose).toBe('batch');
    const upstreamLines = sent.content.trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: { model: string; messages: unknown[] } });
    expect(upstreamLines.map((l) => [l.custom_id, l.body.model])).toEqual([['r1', 'gpt-4o-mini'], ['r2', 'gpt-4o-mini'], ['r3', 'gpt-4o-mini']]);
    expect(upstreamLines[0]).toMatchObject({ method: 'POST', url: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'question r1' }], max_tokens: 50 } });
    // The provider's key went upstream, never the client's.
    expect(up.requests.at(-1)!.headers.authorization).toBe('Bearer sk-test-batches-000000000000000');

    const created = await a.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: tag } });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', input_file_id: file.id });
    let b = created;
    for (let i = 0; i < 5 && b.status !== 'completed'; i++) b = await a.batches.retrieve(created.id);
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 3, completed: 2, failed: 1 });
    const output = await (await a.files.content(b.output_file_id!)).text();
    expect(output.trim().split('\n')).toHaveLength(2);
    const errors = await (await a.files.content(b.error_file_id!)).text();
    expect(errors).toContain('fake_refusal');

    const calls = await waitForCalls(b.id, 3);
    expect(calls).toHaveLength(3);
    const team = `team-a-${tag}`;
    const aId = await keyId(`a-${tag}`);
    for (const c of calls) expect(c).toMatchObject({ team, key_id: aId });
    const byModel = calls.map((c) => [c.requested_model, c.outcome, c.status]).sort();
    expect(byModel).toEqual([['cheap', 'error', 400], ['cheap', 'success', 200], ['cheap-too', 'success', 200]]);
    const ok = calls.filter((c) => c.outcome === 'success');
    for (const c of ok) expect(c.cost_usd).toBeCloseTo(FULL_PRICE / 2, 12);
    const failed = calls.find((c) => c.outcome === 'error')!;
    expect(failed.error_type).toBe('fake_refusal');

    // The record holds the request as the client wrote it (its alias) and the upstream's answer.
    const one = await recordedCall<{ request_body: string; response_body: string; tags: Record<string, string>; upstream_api: string; input_tokens: number; output_tokens: number }>(gl, MASTER, ok.find((c) => c.requested_model === 'cheap-too')!.request_id);
    expect(JSON.parse(one.request_body)).toEqual({ model: 'cheap-too', messages: [{ role: 'user', content: 'question r2' }], max_tokens: 50 });
    expect(JSON.parse(one.response_body)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Batch answer to r2' } }] });
    expect(one).toMatchObject({ tags: { 'gatelog.batch': b.id, 'gatelog.custom_id': 'r2' }, upstream_api: 'openai.batch', input_tokens: 100, output_tokens: 20 });

    // Retrieved again: nothing more is recorded.
    await a.batches.retrieve(b.id);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await batchCalls(b.id)).toHaveLength(3);

    // Repricing recomputes a batch line at the batch price too, not the live one.
    const rep = await fetch(`${gl.url}/admin/reprice`, {
      method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() }),
    });
    expect(rep.status).toBe(200);
    for (const c of (await batchCalls(b.id)).filter((x) => x.outcome === 'success')) expect(c.cost_usd).toBeCloseTo(FULL_PRICE / 2, 12);
    Object.assign(made, { fileId: file.id, batchId: b.id, outputId: b.output_file_id });
  }, 60_000);

  it('another team gets 404 on every id of team A and never sees them listed; team A and the master key do', async () => {
    const b = client(keys.b);
    const notFound = async (p: Promise<unknown>): Promise<void> => {
      const [status] = await refused(p);
      expect(status).toBe(404);
    };
    await notFound(b.files.retrieve(made.fileId));
    await notFound(b.files.retrieve(made.outputId));
    await notFound(b.files.content(made.outputId));
    await notFound(b.files.delete(made.fileId));
    await notFound(b.batches.retrieve(made.batchId));
    await notFound(b.batches.cancel(made.batchId));
    await notFound(b.batches.create({ input_file_id: made.fileId, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    // The same answer as for an id nobody made.
    const [, codeForeign, msgForeign] = await refused(b.batches.retrieve(made.batchId));
    const [, codeNone, msgNone] = await refused(b.batches.retrieve('batch_doesnotexist'));
    expect([codeForeign, msgForeign.replace(made.batchId, 'X')]).toEqual([codeNone, msgNone.replace('batch_doesnotexist', 'X')]);
    // Raw error shape on the bare origin too.
    const raw = await fetch(`${gl.url}/batches/${made.batchId}`, { headers: { authorization: `Bearer ${keys.b}` } });
    expect(raw.status).toBe(404);
    expect(((await raw.json()) as { error: { type: string; code: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', code: 'batch_not_found' });

    const bFile = await upload(keys.b, [line('x1', 'cheap')]);
    const bFiles = (await b.files.list()).data.map((f) => f.id);
    expect(bFiles).toEqual([bFile.id]);
    expect((await b.batches.list()).data).toEqual([]);

    // Cancelling is the owner's too (any key of the team).
    const second = await client(keys.a2).batches.create({ input_file_id: made.fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await notFound(b.batches.cancel(second.id));
    expect((await client(keys.a).batches.cancel(second.id)).status).toBe('cancelling');
    // What a cancelled batch finished is billed, so it is recorded too.
    expect((await client(keys.a2).batches.retrieve(second.id)).status).toBe('cancelled');
    const partial = await waitForCalls(second.id, 1);
    expect(partial.map((c) => [c.requested_model, c.outcome, c.cost_usd])).toEqual([['cheap', 'success', FULL_PRICE / 2]]);

    const a2 = client(keys.a2);
    expect((await a2.batches.list()).data.map((x) => x.id)).toEqual([second.id, made.batchId]);
    const resultFiles = async (id: string): Promise<string[]> => a2.batches.retrieve(id).then((x) => [x.output_file_id, x.error_file_id].filter((f): f is string => !!f));
    expect((await a2.files.list()).data.map((f) => f.id).sort()).toEqual([made.fileId, ...(await resultFiles(made.batchId)), ...(await resultFiles(second.id))].sort());
    const all = (await client(MASTER).files.list()).data.map((f) => f.id);
    expect(all).toEqual(expect.arrayContaining([made.fileId, bFile.id]));

    // Deleting is the owner's, and leaves the file gone for gatelog.
    const del = await client(keys.a).files.delete(made.outputId);
    expect(del).toMatchObject({ id: made.outputId, deleted: true });
    await notFound(client(keys.a).files.retrieve(made.outputId));
    // Batch create and file delete are in the audit trail with the key and team.
    const audit = await (await fetch(`${gl.url}/admin/audit?limit=200`, { headers: { authorization: `Bearer ${MASTER}` } })).json() as { data: { action: string; target: string; actor: string; details: string }[] };
    const rows = audit.data.filter((r) => [made.batchId, made.outputId, second.id].includes(r.target));
    expect(rows.map((r) => r.action).sort()).toEqual(['batch.cancel', 'batch.create', 'batch.create', 'file.delete']);
    expect(rows.find((r) => r.action === 'batch.cancel')!.actor).toBe(`key:a-${tag}`);
    for (const r of rows) expect(JSON.parse(r.details)).toMatchObject({ team: `team-a-${tag}` });
  }, 60_000);

  it('refuses at upload: a model the key may not use, mixed providers, a kind without a Batch API, other purposes', async () => {
    const before = up.requests.filter((r) => r.upload).length;
    const [s1, c1, m1] = await refused(upload(keys.limited, [line('ok', 'cheap'), line('nope', 'cheap-too')]));
    expect([s1, c1]).toEqual([403, 'model_not_allowed']);
    expect(m1).toContain('Line 2');
    expect(m1).toContain('nope');
    const [s2, c2] = await refused(upload(keys.a, [line('1', 'cheap'), line('2', 'mocked')]));
    expect([s2, c2]).toEqual([400, 'mixed_providers']);
    const [s3, c3, m3] = await refused(upload(keys.a, [line('1', 'claude')]));
    expect([s3, c3]).toEqual([400, 'batches_unsupported']);
    expect(m3).toContain('anthropic');
    const [s4, c4] = await refused(upload(keys.a, [line('1', 'cheap')], 'fine-tune'));
    expect([s4, c4]).toEqual([400, 'unsupported_purpose']);
    const [s5, c5] = await refused(upload(keys.a, [line('1', `no-such-${tag}`)]));
    expect([s5, c5]).toEqual([404, 'model_not_found']);
    expect(up.requests.filter((r) => r.upload).length).toBe(before);
  }, 60_000);

  it('runs a batch on Azure OpenAI: its files and batches paths, api-version and api-key, the deployment as the model', async () => {
    const a = client(keys.a);
    const before = up.requests.length;
    const file = await upload(keys.a, [line('z1', 'az-mini')]);
    const b = await a.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    let got = b;
    for (let i = 0; i < 5 && got.status !== 'completed'; i++) got = await a.batches.retrieve(b.id);
    expect(got.status).toBe('completed');
    const sent = up.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path}`).slice(0, 3)).toEqual(['POST /openai/files', 'POST /openai/batches', `GET /openai/batches/${b.id}`]);
    for (const r of sent) {
      expect(r.query).toBe('?api-version=2024-10-21');
      expect(r.headers['api-key']).toBe('az-test-batches-0000000000000000');
      expect(r.headers.authorization).toBeUndefined();
    }
    expect((JSON.parse(sent[0]!.upload!.content.trim()) as { body: { model: string } }).body.model).toBe('mini-deployment');
    const [call] = await waitForCalls(b.id, 1);
    expect(call).toMatchObject({ requested_model: 'az-mini', outcome: 'success', team: `team-a-${tag}` });
  }, 60_000);

  it('redacts the lines of a `forward` alias before the file goes upstream', async () => {
    const before = up.requests.length;
    const file = await upload(keys.a, [line('m1', 'private', 'write to ada.lovelace@example.com'), line('m2', 'cheap', 'cc grace@example.com')]);
    const sent = up.requests.slice(before).find((r) => r.upload)!.upload!.content;
    expect(sent).not.toContain('ada.lovelace@example.com');
    // Another alias's line is sent as written.
    expect(sent).toContain('grace@example.com');
    expect((await client(keys.a).files.retrieve(file.id)).id).toBe(file.id);
  }, 60_000);

  it('answers 413 over the size cap and the line cap, before anything goes upstream', async () => {
    const before = up.requests.filter((r) => r.upload).length;
    const big = Buffer.alloc(50 * 1024 * 1024 + 1, 0x20);
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([big]), 'big.jsonl');
    const r = await fetch(`${gl.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${keys.a}` }, body: form }).catch((e: unknown) => e);
    // (The client may also see the connection close while still sending.)
    if (r instanceof Response) {
      expect(r.status).toBe(413);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('file_too_large');
    }
    const lines = Array.from({ length: 50_001 }, (_, i) => line(`l${i}`, 'cheap', 'x'));
    const [status, code] = await refused(upload(keys.a, lines));
    expect([status, code]).toEqual([413, 'file_too_large']);
    expect(up.requests.filter((x) => x.upload).length).toBe(before);
  }, 120_000);

  it('after a restart the batch is not recorded again; the poller records a batch nobody retrieves; budgets count batch spend', async () => {
    const dataDir = gl.dataDir;
    await gl.stop();
    const c = upstreamConfig();
    gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: { ...c, batches: { poll_ms: 500 } }, dataDir, timeoutMs: 60_000 });
    expect((await client(keys.a).batches.retrieve(made.batchId)).status).toBe('completed');

    // A batch nobody asks about: the background poll sees it complete and records it, and the
    // budget of the key that made it counts what it cost.
    const budgeted = await newKeyWith(gl.url, MASTER, { name: `budgeted-${tag}`, team: `team-a-${tag}`, budget_usd: FULL_PRICE * 0.75 });
    const chat = (): Promise<Response> => fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${budgeted}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mocked', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect((await chat()).status).toBe(200);
    const file = await upload(budgeted, [line('p1', 'cheap'), line('p2', 'cheap')]);
    const polled = await client(budgeted).batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const calls = await waitForCalls(polled.id, 2);
    expect(calls.map((c) => c.cost_usd)).toEqual([FULL_PRICE / 2, FULL_PRICE / 2]);
    let refusedStatus = 0;
    for (let i = 0; i < 100 && refusedStatus !== 429; i++) {
      const r = await chat();
      refusedStatus = r.status;
      if (r.status === 429) expect(((await r.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');
      else await new Promise((res) => setTimeout(res, 200));
    }
    expect(refusedStatus).toBe(429);
    // A key whose budget is spent starts no new batch either.
    const [bs, bc] = await refused(client(budgeted).batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect([bs, bc]).toEqual([429, 'budget_exceeded']);

    await new Promise((r) => setTimeout(r, 1500));
    expect(await batchCalls(made.batchId)).toHaveLength(3);
    expect(await batchCalls(polled.id)).toHaveLength(2);
    await gl.stop();
    const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dataDir);
    try {
      const rs = await store.client.query({
        query: `SELECT count() AS n, uniqExact(request_id) AS ids FROM gatelog.llm_calls WHERE tags['gatelog.batch'] = {b:String}`,
        query_params: { b: made.batchId },
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ n: number | string; ids: number | string }>();
      expect([Number(row?.n), Number(row?.ids)]).toEqual([3, 3]);
    } finally {
      await store.close();
    }
    gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: c, dataDir, timeoutMs: 60_000 });
  }, 120_000);
});

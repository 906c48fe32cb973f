// `redaction.block` through a real gatelog process with the OpenAI and Anthropic SDKs: a request
// holding a blocked kind of content is refused with 400 `content_blocked` in the surface's error
// shape and never reaches the provider; the refusal is recorded with the request redacted (even
// under `mode: off`), naming the kinds, never the values; the lists of an alias and of a virtual
// key add to the global one; everything else is forwarded as usual.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newVirtualKey, recordedCall } from '../support/admin-setup.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'master-content-block-0123456789';
const AWS_KEY = 'AKIACANARYBLOCK01234';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBlockedPemBody\n-----END PRIVATE KEY-----';
const CARD = '4111 1111 1111 1111';
const ORDER = 'ORD-7654321';

let up: FakeOpenAi;
let gl: GatelogProcess;
let oa: OpenAI;
let strictKey: string;

interface Recorded {
  status: number;
  outcome: string;
  error_type: string;
  error_message: string;
  request_body: string;
  redactions: Record<string, number>;
  key_name: string;
  team: string;
}

beforeAll(async () => {
  up = await startFakeOpenAi();
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      providers: { up: { kind: 'openai', base_url: up.baseUrl, api_key: 'upstream' } },
      models: ['plain', 'payments', 'open'].map((name) => ({ name, deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] })),
      ingest: { batch_rows: 100, batch_ms: 100 },
      redaction: {
        mode: 'log',
        block: ['secrets'],
        custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }],
        aliases: { payments: { block: ['card'] }, open: 'off' },
        keys: { 'strict-app': { block: ['ORDER'] } },
      },
    },
  });
  oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  strictKey = await newVirtualKey(gl.url, MASTER, 'strict-app', 'ops');
}, 60_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

/** The refusal an SDK call ends with (it must end with one). */
async function refused(p: Promise<unknown>): Promise<{ status: number; code: string; message: string; id: string }> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof OpenAI.APIError)) throw new Error(`expected a refusal, got ${String(err)}`);
  const body = err.error as { code?: string; message?: string };
  return { status: err.status ?? 0, code: body.code ?? '', message: body.message ?? '', id: err.headers?.get('x-gatelog-request-id') ?? '' };
}

const chat = (client: OpenAI, model: string, content: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content }] });

describe('redaction.block', () => {
  it('a cloud key in a chat call: 400 content_blocked, nothing sent, recorded redacted', async () => {
    const before = up.requests.length;
    const r = await refused(chat(oa, 'plain', `deploy with ${AWS_KEY} please`));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(r.message).toContain('AWS_KEY');
    expect(r.message).not.toContain(AWS_KEY);
    expect(up.requests.length).toBe(before);
    const rec = await recordedCall<Recorded>(gl, MASTER, r.id);
    expect(rec).toMatchObject({ status: 400, outcome: 'refused', error_type: 'content_blocked' });
    expect(rec.request_body).toContain('deploy with [AWS_KEY_1] please');
    expect(rec.request_body).not.toContain(AWS_KEY);
    expect(rec.redactions).toMatchObject({ AWS_KEY: 1 });
  });

  it('a stream asked for is refused before it starts', async () => {
    const before = up.requests.length;
    const r = await refused(oa.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: `key ${AWS_KEY}` }], stream: true }));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(up.requests.length).toBe(before);
  });

  it('under mode off the refused request is still stored redacted', async () => {
    const r = await refused(chat(oa, 'open', `key ${AWS_KEY}`));
    const rec = await recordedCall<Recorded>(gl, MASTER, r.id);
    expect(rec.request_body).toContain('[AWS_KEY_1]');
    expect(rec.request_body).not.toContain(AWS_KEY);
  });

  it('the Anthropic surface answers in its own shape, and a private key in the system prompt counts', async () => {
    const an = new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
    const before = up.requests.length;
    const err = await an.messages.create({ model: 'plain', max_tokens: 50, system: `Use this key:\n${PEM}`, messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as InstanceType<typeof Anthropic.BadRequestError>).error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('PRIVATE_KEY');
    expect(up.requests.length).toBe(before);
  });

  it("an alias's list adds to the global one: a card number is blocked on payments only", async () => {
    const ok = await chat(oa, 'plain', `card ${CARD}`);
    expect(ok.choices[0]?.message).toBeDefined();
    expect(up.requests.at(-1)?.raw).toContain(CARD);
    const r = await refused(chat(oa, 'payments', `card ${CARD}`));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(r.message).toContain('CARD');
  });

  it("a virtual key's list adds to it too, by key name, and the refusal carries the key and team", async () => {
    const asKey = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: strictKey, maxRetries: 0 });
    const free = await chat(oa, 'plain', `status of ${ORDER}`);
    expect(free.choices).toHaveLength(1);
    const r = await refused(chat(asKey, 'plain', `status of ${ORDER}`));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(r.message).toContain('ORDER');
    const rec = await recordedCall<Recorded>(gl, MASTER, r.id);
    expect(rec).toMatchObject({ key_name: 'strict-app', team: 'ops', error_type: 'content_blocked' });
    expect(rec.request_body).toContain('[ORDER_1]');
  });

  it('a batch file with a blocked line is refused at upload, naming the line; nothing goes upstream', async () => {
    const before = up.requests.length;
    const line = (id: string, content: string) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'plain', messages: [{ role: 'user', content }] } });
    const file = await toFile(Buffer.from(`${line('ok-1', 'hello')}\n${line('leak-2', `use ${AWS_KEY}`)}\n`), 'batch.jsonl');
    const r = await refused(oa.files.create({ file, purpose: 'batch' }));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(r.message).toContain('custom_id "leak-2"');
    expect(r.message).toContain('AWS_KEY');
    expect(r.message).not.toContain(AWS_KEY);
    expect(up.requests.length).toBe(before);
  });

  it('content of no blocked kind passes untouched, and embeddings and responses are screened too', async () => {
    const ok = await chat(oa, 'plain', 'mail someone@example.com about the invoice');
    expect(ok.choices).toHaveLength(1);
    expect(up.requests.at(-1)?.raw).toContain('someone@example.com');
    const emb = await refused(oa.embeddings.create({ model: 'plain', input: `token ${AWS_KEY}` }));
    expect(emb).toMatchObject({ status: 400, code: 'content_blocked' });
    const resp = await refused(oa.responses.create({ model: 'plain', input: `token ${AWS_KEY}` }));
    expect(resp).toMatchObject({ status: 400, code: 'content_blocked' });
  });
});

// `redaction.block` and `x-gatelog-redact` on multipart uploads, through a real gatelog process
// with the real `openai` SDK and fake upstreams: a transcription, translation or image edit whose
// prompt holds a blocked kind is refused with 400 `content_blocked` before anything is sent and
// recorded like a refused JSON call (request stored redacted); a clean prompt passes. A batch
// file uploaded with `x-gatelog-redact: forward` goes upstream redacted, as a call's body would,
// and one uploaded with `metadata_only` has its lines recorded without bodies; a malformed header
// is 400 `invalid_redact_header`, as on a call.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { startFakeAudio, type FakeAudio } from '../support/fake-audio-upstream.ts';
import { startFakeImages, type FakeImages } from '../support/fake-image-upstream.ts';
import { startFakeBatches, type FakeBatches } from '../support/fake-openai-batches.ts';

const MASTER = `mk-${randomUUID()}`;
const AWS_KEY = 'AKIACANARYUPLOAD0123';
const EMAIL = 'someone@example.com';

let audio: FakeAudio;
let images: FakeImages;
let batches: FakeBatches;
let gl: GatelogProcess;
let oa: OpenAI;

interface Recorded {
  status: number;
  outcome: string;
  error_type: string;
  request_body: string;
  response_body: string;
  redactions: Record<string, number>;
}

beforeAll(async () => {
  [audio, images, batches] = await Promise.all([startFakeAudio(), startFakeImages(), startFakeBatches()]);
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: {
        aud: { kind: 'openai', base_url: `${audio.url}/v1`, api_key: 'sk-test-audio-0000000000000000' },
        img: { kind: 'openai', base_url: `${images.url}/v1`, api_key: 'sk-test-image-0000000000000000' },
        bat: { kind: 'openai', base_url: batches.baseUrl, api_key: 'sk-test-batch-0000000000000000' },
      },
      models: [
        { name: 'whisper', deployments: [{ provider: 'aud', model: 'whisper-1' }] },
        { name: 'gpt-image-1', deployments: [{ provider: 'img', model: 'gpt-image-1' }] },
        { name: 'cheap', deployments: [{ provider: 'bat', model: 'gpt-4o-mini' }] },
      ],
      redaction: { mode: 'log', block: ['secrets'] },
    },
    timeoutMs: 60_000,
  });
  oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([audio?.close(), images?.close(), batches?.close()]);
});

/** The refusal an SDK call ends with (it must end with one). */
async function refused(p: Promise<unknown>): Promise<{ status: number; code: string; message: string; id: string }> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof OpenAI.APIError)) throw new Error(`expected a refusal, got ${String(err)}`);
  const body = err.error as { code?: string; message?: string };
  return { status: err.status ?? 0, code: body.code ?? '', message: body.message ?? '', id: err.headers?.get('x-gatelog-request-id') ?? '' };
}

const wav = async () => toFile(Buffer.concat([Buffer.from('RIFF'), randomBytes(4096)]), 'a.wav', { type: 'audio/wav' });
const png = async () => toFile(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(4096)]), 'a.png', { type: 'image/png' });

/** A refused upload's record: refused, the prompt stored with the key replaced, never the key. */
async function recordedRefusal(id: string): Promise<void> {
  const rec = await recordedCall<Recorded>(gl, MASTER, id);
  expect(rec).toMatchObject({ status: 400, outcome: 'refused', error_type: 'content_blocked' });
  expect(rec.request_body).toContain('[AWS_KEY_1]');
  expect(rec.request_body).not.toContain(AWS_KEY);
  expect(rec.redactions).toMatchObject({ AWS_KEY: 1 });
}

describe('redaction.block on multipart uploads', () => {
  it('a transcription or translation whose prompt holds a cloud key: 400 content_blocked, nothing sent, recorded redacted', async () => {
    const before = audio.requests.length;
    const t = await refused(oa.audio.transcriptions.create({ file: await wav(), model: 'whisper', prompt: `Vocabulary: ${AWS_KEY}` }));
    expect(t).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(t.message).toContain('AWS_KEY');
    expect(t.message).not.toContain(AWS_KEY);
    const tr = await refused(oa.audio.translations.create({ file: await wav(), model: 'whisper', prompt: `key ${AWS_KEY}` }));
    expect(tr).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(audio.requests.length).toBe(before);
    await recordedRefusal(t.id);
  });

  it('an image edit whose prompt holds a cloud key: 400 content_blocked, nothing sent, recorded redacted', async () => {
    const before = images.requests.length;
    const r = await refused(oa.images.edit({ image: await png(), model: 'gpt-image-1', prompt: `Write ${AWS_KEY} on the sign` }));
    expect(r).toMatchObject({ status: 400, code: 'content_blocked' });
    expect(r.message).not.toContain(AWS_KEY);
    expect(images.requests.length).toBe(before);
    await recordedRefusal(r.id);
  });

  it('clean prompts pass', async () => {
    const t = await oa.audio.transcriptions.create({ file: await wav(), model: 'whisper', prompt: 'Names: Ada.' });
    expect(typeof t.text).toBe('string');
    expect(audio.requests.at(-1)?.fields).toMatchObject({ prompt: 'Names: Ada.' });
    const e = await oa.images.edit({ image: await png(), model: 'gpt-image-1', prompt: 'Add a hat' });
    expect(e.data).toBeDefined();
    expect(images.requests.at(-1)?.fields).toMatchObject({ prompt: 'Add a hat' });
  });
});

describe('x-gatelog-redact on batch file uploads', () => {
  const line = (id: string, content: string): string => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'cheap', messages: [{ role: 'user', content }] } });
  const upload = async (redact: string | undefined, lines: string[]) =>
    oa.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'in.jsonl'), purpose: 'batch' }, redact ? { headers: { 'x-gatelog-redact': redact } } : {});
  const sentUpstream = (): string => batches.requests.filter((r) => r.upload).at(-1)!.upload!.content;

  it('forward: the lines go upstream redacted, as a call would; without it they go as written', async () => {
    await upload(undefined, [line('plain-1', `mail ${EMAIL}`)]);
    expect(sentUpstream()).toContain(EMAIL);
    await upload('forward', [line('fwd-1', `mail ${EMAIL}`)]);
    expect(sentUpstream()).not.toContain(EMAIL);
    expect(sentUpstream()).toContain('[EMAIL_1]');
  });

  it('metadata_only: the batch\'s lines are recorded without bodies', async () => {
    const file = await upload('metadata_only', [line('meta-1', `mail ${EMAIL}`)]);
    expect(sentUpstream()).toContain(EMAIL);
    const created = await oa.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    let b = created;
    for (let i = 0; i < 5 && b.status !== 'completed'; i++) b = await oa.batches.retrieve(created.id);
    expect(b.status).toBe('completed');
    let calls: { request_id: string }[] = [];
    for (let i = 0; i < 200 && calls.length === 0; i++) {
      const r = await fetch(`${gl.url}/admin/calls?limit=10&tags=${encodeURIComponent(`gatelog.batch=${b.id}`)}`, { headers: { authorization: `Bearer ${MASTER}` } });
      calls = ((await r.json()) as { data: { request_id: string }[] }).data;
      if (calls.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(calls).toHaveLength(1);
    const rec = await recordedCall<Recorded>(gl, MASTER, calls[0]!.request_id);
    expect(rec.request_body).toBe('');
    expect(rec.response_body).toBe('');
  });

  it('a malformed header is 400 invalid_redact_header and nothing goes upstream', async () => {
    const before = batches.requests.length;
    const r = await refused(upload('loud', [line('bad-1', 'hi')]));
    expect(r).toMatchObject({ status: 400, code: 'invalid_redact_header' });
    expect(batches.requests.length).toBe(before);
  });
});

// Redaction modes through a real gatelog process and the OpenAI SDK: `forward` sends the
// provider the redacted text (placeholders consistent between request and response),
// `metadata_only` stores no body, the x-gatelog-redact header can only make things stricter,
// and a malformed header is the client's 400 in OpenAI's error shape.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIECES_MIN_BYTES } from '@gatelog/core/json/pieces';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import type { StoredCall } from './privacy-support.ts';

let up: FakeOpenAi;
let gl: GatelogProcess;
let oa: OpenAI;

const EMAIL = 'mode.person@example-corp.test';
const KEY = 'sk-proj-ModeTestKey0123456789abcdefXYZ';

beforeAll(async () => {
  up = await startFakeOpenAi();
  gl = await startGatelog({
    config: {
      providers: { up: { kind: 'openai', base_url: up.baseUrl, api_key: 'upstream' } },
      models: ['plain', 'fwd', 'meta', 'open'].map((name) => ({ name, deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] })),
      ingest: { batch_rows: 100, batch_ms: 100 },
      redaction: { mode: 'log', aliases: { fwd: 'forward', meta: 'metadata_only', open: 'off' } },
    },
  });
  oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

async function call(model: string, headers: Record<string, string> = {}): Promise<{ id: string; reply: string; sent: string }> {
  const { data, response } = await oa.chat.completions.create({ model, messages: [{ role: 'user', content: `mail ${EMAIL} key ${KEY}` }] }, { headers }).withResponse();
  return { id: response.headers.get('x-gatelog-request-id') ?? '', reply: data.choices[0]?.message.content ?? '', sent: up.requests.at(-1)?.raw ?? '' };
}

async function stored(id: string): Promise<StoredCall> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${gl.url}/admin/calls/${id}`);
    if (r.status === 200) return (await r.json()) as StoredCall;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`call ${id} never stored`);
}

describe('redaction modes', () => {
  it('log: the provider gets the original, the stored copy is redacted', async () => {
    const c = await call('plain');
    expect(c.sent).toContain(EMAIL);
    const s = await stored(c.id);
    expect(s.request_body).toContain('mail [EMAIL_1] key [OPENAI_KEY_1]');
    expect(s.response_body).toContain('[EMAIL_1]');
    expect(s.redactions).toEqual({ EMAIL: 2, OPENAI_KEY: 2 });
  });

  it('log: a long conversation with personal data in its history is stored redacted as a short one is', async () => {
    // Longer than PIECES_MIN_BYTES, with characters beyond Latin-1: read and redacted in pieces.
    const history = Array.from({ length: 120 }, (_, i) => ({
      role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
      content: `turn ${i}: résumé ✓ “quoted” ${'earlier context '.repeat(40)}${i === 3 ? ` write to ${EMAIL}` : ''}${i === 100 ? ` key ${KEY}` : ''}`,
    }));
    const messages = [...history, { role: 'user' as const, content: `again ${EMAIL}` }];
    const { response } = await oa.chat.completions.create({ model: 'plain', messages }).withResponse();
    const client = JSON.stringify({ model: 'plain', messages });
    expect(Buffer.byteLength(client)).toBeGreaterThan(PIECES_MIN_BYTES);
    expect(JSON.parse(up.requests.at(-1)?.raw ?? '{}')).toEqual({ model: 'gpt-4o-mini', messages });
    const s = (await stored(response.headers.get('x-gatelog-request-id') ?? '')) as StoredCall & { attempt_io: { request_body: string; request_same: boolean }[] };
    const redacted = client.replaceAll(EMAIL, '[EMAIL_1]').replaceAll(KEY, '[OPENAI_KEY_1]');
    expect(s.request_body).toBe(redacted);
    expect(s.response_body).toContain('again [EMAIL_1]');
    expect(s.redactions).toEqual({ EMAIL: 3, OPENAI_KEY: 1 });
    // What the provider got (the alias's model set), stored redacted the same way.
    expect(s.attempt_io[0]!.request_same).toBe(false);
    expect(s.attempt_io[0]!.request_body).toBe(redacted.replace('"model":"plain"', '"model":"gpt-4o-mini"'));
  });

  it('forward: the provider gets placeholders too, consistent with the stored copy', async () => {
    const c = await call('fwd');
    expect(c.sent).not.toContain(EMAIL);
    expect(c.sent).toContain('mail [EMAIL_1] key [OPENAI_KEY_1]');
    expect(JSON.parse(c.sent)).toMatchObject({ model: 'gpt-4o-mini' });
    expect(c.reply).toContain('[EMAIL_1]');
    const s = await stored(c.id);
    expect(s.request_body).toContain('mail [EMAIL_1] key [OPENAI_KEY_1]');
    expect(s.response_body).not.toContain(EMAIL);
  });

  it('metadata_only: no bodies stored, sizes kept', async () => {
    const c = await call('meta');
    expect(c.sent).toContain(EMAIL);
    const s = (await stored(c.id)) as StoredCall & { request_bytes: number };
    expect(s.request_body).toBe('');
    expect(s.response_body).toBe('');
    expect(s.request_bytes).toBeGreaterThan(0);
  });

  it('the header asks for stricter, never looser, treatment', async () => {
    const looser = await call('meta', { 'x-gatelog-redact': 'off' });
    expect((await stored(looser.id)).request_body).toBe('');
    const stricter = await call('open', { 'x-gatelog-redact': 'forward' });
    expect(stricter.sent).not.toContain(EMAIL);
    const open = await call('open');
    expect((await stored(open.id)).request_body).toContain(EMAIL);
  });

  it('a malformed header is a 400 in OpenAI error shape, and nothing is sent upstream', async () => {
    const before = up.requests.length;
    const r = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gatelog-redact': 'everything' },
      body: JSON.stringify({ model: 'plain', messages: [{ role: 'user', content: EMAIL }] }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('invalid_redact_header');
    expect(up.requests.length).toBe(before);
  });
});

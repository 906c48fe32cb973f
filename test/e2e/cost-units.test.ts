// Cost of calls not billed by text tokens alone, through a real `gatelog start` with the real
// `openai` SDK against fake upstreams in OpenAI's wire format: whisper-1 by its reported audio
// seconds, tts-1 / tts-1-hd by the characters of their input, DALL·E by images × size × quality,
// gpt-image-1 with its image input tokens at their own rate. The expected costs come from
// OpenAI's published prices written here (https://openai.com/api/pricing/), never from
// gatelog's price code. Then `POST /admin/reprice`: with the same prices, every stored unit
// gives back the recorded cost; with custom unit rates in config, the costs follow them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import type { Units } from '@gatelog/core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { startFakeAudio, type FakeAudio } from '../support/fake-audio-upstream.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { EDIT_USAGE, startFakeImages, type FakeImages } from '../support/fake-image-upstream.ts';

const MASTER = `mk-${randomUUID()}`;
const auth = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };

/** OpenAI's published prices (https://openai.com/api/pricing/, 2026-12-05). */
const WHISPER_PER_MINUTE = 0.006;
/** Groq's whisper-large-v3: $0.111 an hour, at least 10 seconds a request (https://console.groq.com/docs/model/whisper-large-v3). */
const GROQ_WHISPER_PER_HOUR = 0.111;
const TTS_PER_M_CHARS = 15;
const TTS_HD_PER_M_CHARS = 30;
/** gpt-image-1, USD per million: text input, image input, output. */
const GPT_IMAGE = { text: 5, image: 10, output: 40 };
/** The fake audio upstream's whisper usage: `{type: 'duration', seconds: 3}`. */
const WHISPER_SECONDS = 3;

interface Stored extends Required<Units> {
  request_id: string;
  started_at: string;
  deployment_model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  price_version: string;
  repriced_at: string | null;
}

let audio: FakeAudio;
let oai: FakeOpenAi;
let img: FakeImages;
let gl: GatelogProcess;

const config = (pricing: object[] = []): object => ({
  ingest: { batch_ms: 50 },
  providers: {
    audio: { kind: 'openai', base_url: `${audio.url}/v1`, api_key: 'sk-test-audio-0000000000000000' },
    oai: { kind: 'openai', base_url: oai.baseUrl, api_key: 'sk-test-oai-00000000000000000000' },
    img: { kind: 'openai', base_url: `${img.url}/v1`, api_key: 'sk-test-img-00000000000000000000' },
    gq: { kind: 'groq', base_url: `${audio.url}/v1`, api_key: 'gsk-test-00000000000000000000' },
    mock: { kind: 'mock' },
  },
  models: [
    { name: 'whisper-1', deployments: [{ provider: 'audio', model: 'whisper-1' }] },
    { name: 'groq-whisper', deployments: [{ provider: 'gq', model: 'whisper-large-v3' }] },
    { name: 'tts-1', deployments: [{ provider: 'audio', model: 'tts-1' }] },
    { name: 'tts-1-hd', deployments: [{ provider: 'audio', model: 'tts-1-hd' }] },
    { name: 'dall-e-3', deployments: [{ provider: 'oai', model: 'dall-e-3' }] },
    { name: 'dall-e-2', deployments: [{ provider: 'oai', model: 'dall-e-2' }] },
    { name: 'gpt-image-1', deployments: [{ provider: 'img', model: 'gpt-image-1' }] },
  ],
  pricing,
});

const client = (): OpenAI => new OpenAI({ apiKey: MASTER, baseURL: `${gl.url}/v1`, maxRetries: 0 });
const recorded = (id: string | null): Promise<Stored> => recordedCall<Stored>(gl, MASTER, id!);
const png = (bytes: number): Buffer => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(bytes)]);

/** Every call of the test by name: its request id and the cost OpenAI's prices give it. */
const calls = new Map<string, { id: string; expected: number | null }>();

beforeAll(async () => {
  [audio, oai, img] = await Promise.all([startFakeAudio(), startFakeOpenAi(), startFakeImages()]);
  gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: config(), timeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([audio?.close(), oai?.close(), img?.close()]);
});

describe('calls billed by a unit, recorded through gatelog', () => {
  it('whisper-1: audio seconds as reported, at $0.006 a minute; a translation reporting none has no price', async () => {
    const file = await toFile(Buffer.alloc(8000, 1), 'a.wav', { type: 'audio/wav' });
    const t = await client().audio.transcriptions.create({ file, model: 'whisper-1' }).withResponse();
    const e = await recorded(t.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ deployment_model: 'whisper-1', input_tokens: 0, output_tokens: 0, audio_seconds: WHISPER_SECONDS, images: 0, input_characters: 0 });
    expect(e.cost_usd).toBeCloseTo((WHISPER_SECONDS / 60) * WHISPER_PER_MINUTE, 12);
    calls.set('whisper', { id: e.request_id, expected: e.cost_usd });

    // OpenAI's translations answer `{text}`: nothing says how long the audio was.
    const tr = await client().audio.translations.create({ file: await toFile(Buffer.alloc(8000, 1), 'b.wav'), model: 'whisper-1' }).withResponse();
    const n = await recorded(tr.response.headers.get('x-gatelog-request-id'));
    expect(n).toMatchObject({ audio_seconds: 0, cost_usd: null });
    calls.set('translation', { id: n.request_id, expected: null });
  });

  it('Groq whisper-large-v3: the same seconds, billed as Groq\'s 10-second minimum', async () => {
    const t = await client().audio.transcriptions.create({ file: await toFile(Buffer.alloc(8000, 1), 'g.wav'), model: 'groq-whisper' }).withResponse();
    const e = await recorded(t.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ deployment_model: 'whisper-large-v3', audio_seconds: WHISPER_SECONDS });
    expect(e.cost_usd).toBeCloseTo((10 / 3600) * GROQ_WHISPER_PER_HOUR, 12);
    calls.set('groq-whisper', { id: e.request_id, expected: e.cost_usd });
  });

  it('tts-1 and tts-1-hd: the characters of the input, at $15 and $30 per million', async () => {
    const input = 'Hello from gatelog — priced per character. 🎉';
    const chars = [...input].length;
    for (const [model, rate] of [['tts-1', TTS_PER_M_CHARS], ['tts-1-hd', TTS_HD_PER_M_CHARS]] as const) {
      const r = await client().audio.speech.create({ model, input, voice: 'alloy' }).withResponse();
      await r.data.arrayBuffer();
      const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
      expect(e).toMatchObject({ deployment_model: model, input_tokens: 0, input_characters: chars, audio_seconds: 0 });
      expect(e.cost_usd).toBeCloseTo((chars * rate) / 1e6, 12);
      calls.set(model, { id: e.request_id, expected: (chars * rate) / 1e6 });
    }
  });

  it('DALL·E: images × size × quality as asked, OpenAI\'s defaults when not', async () => {
    const cases = [
      { name: 'dall-e-3 hd wide', req: { model: 'dall-e-3', prompt: 'a fox', size: '1792x1024', quality: 'hd', response_format: 'url' }, usd: 0.12, units: { images: 1, image_size: '1792x1024', image_quality: 'hd' } },
      { name: 'dall-e-3 default', req: { model: 'dall-e-3', prompt: 'a fox' }, usd: 0.04, units: { images: 1, image_size: '', image_quality: '' } },
      { name: 'dall-e-2 small', req: { model: 'dall-e-2', prompt: 'a fox', n: 3, size: '256x256', response_format: 'url' }, usd: 3 * 0.016, units: { images: 3, image_size: '256x256' } },
    ] as const;
    for (const c of cases) {
      const r = await client().images.generate(c.req).withResponse();
      expect(r.data.data).toHaveLength(c.units.images);
      const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
      expect(e, c.name).toMatchObject({ input_tokens: 0, output_tokens: 0, ...c.units });
      expect(e.cost_usd, c.name).toBeCloseTo(c.usd, 12);
      calls.set(c.name, { id: e.request_id, expected: c.usd });
    }
  });

  it('gpt-image-1 edit: image input tokens at $10, text input at $5, output at $40 per million', async () => {
    const r = await client().images.edit({
      image: [await toFile(png(2048), 'a.png', { type: 'image/png' }), await toFile(png(2048), 'b.png', { type: 'image/png' })],
      prompt: 'Put them side by side', model: 'gpt-image-1', n: 2, size: '1024x1024', quality: 'high',
    }).withResponse();
    expect(r.data.data).toHaveLength(2);
    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    const imageTokens = 2 * EDIT_USAGE.imageTokensPerImage;
    const output = 2 * EDIT_USAGE.outputTokensPerImage;
    expect(e).toMatchObject({ input_tokens: EDIT_USAGE.textTokens + imageTokens, output_tokens: output, input_image_tokens: imageTokens, images: 2, image_size: '1024x1024', image_quality: 'high' });
    const usd = (EDIT_USAGE.textTokens * GPT_IMAGE.text + imageTokens * GPT_IMAGE.image + output * GPT_IMAGE.output) / 1e6;
    expect(e.cost_usd).toBeCloseTo(usd, 12);
    calls.set('gpt-image-1', { id: e.request_id, expected: usd });
  });
});

describe('the request page', () => {
  it('says what a call was billed by, beside its tokens', async () => {
    const signIn = await fetch(`${gl.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { origin: gl.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: MASTER, next: '/requests' }).toString(),
    });
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect(cookie, `${signIn.status} ${signIn.headers.get('location')} ${(await signIn.text()).slice(0, 300)}`).not.toBe('');
    const text = async (name: string): Promise<string> => (await (await fetch(`${gl.url}/requests/${calls.get(name)!.id}`, { headers: { cookie } })).text()).replace(/<[^>]*>/g, '');
    expect(await text('dall-e-3 hd wide')).toContain('Billed by1 image 1792x1024 hd');
    expect(await text('whisper')).toContain(`Billed by${WHISPER_SECONDS} s audio`);
    expect(await text('gpt-image-1')).toContain(`2 images 1024x1024 high · ${2 * EDIT_USAGE.imageTokensPerImage} image input tokens`);
  });
});

describe('repricing from the stored units', () => {
  const reprice = async (from: string, to: string): Promise<{ rows: number; changed: number; unpriced: number }> => {
    const r = await fetch(`${gl.url}/admin/reprice`, { method: 'POST', headers: auth, body: JSON.stringify({ from, to }) });
    expect(r.status).toBe(200);
    return (await r.json()) as { rows: number; changed: number; unpriced: number };
  };

  it('gives back every recorded cost with the same prices, and follows custom unit rates', async () => {
    expect(calls.size).toBe(9);
    const first = await recorded(calls.get('whisper')!.id);
    const from = `${first.started_at.slice(0, 10)}T00:00:00Z`;
    const to = new Date(Date.parse(from) + 2 * 86_400_000).toISOString();
    // Same prices: the stored seconds, characters, images and image tokens price every call as recorded.
    expect(await reprice(from, to)).toMatchObject({ rows: calls.size, changed: 0, unpriced: 1 });

    await gl.stop();
    gl = await startGatelog({
      dataDir: gl.dataDir,
      env: { GATELOG_MASTER_KEY: MASTER },
      config: config([
        { provider: 'audio', model: 'whisper-1', audio_minute: 0.01 },
        { provider: 'audio', model: 'tts-1', per_1m_characters: 20 },
        { provider: 'oai', model: 'dall-e-3', image: { 'hd 1792x1024': 0.2, default: 0.05 } },
      ]),
      timeoutMs: 60_000,
    });
    expect(await reprice(from, to)).toMatchObject({ rows: calls.size, changed: 4, unpriced: 1 });
    const chars = (await recorded(calls.get('tts-1')!.id)).input_characters;
    const now: Record<string, number | null> = {
      whisper: (WHISPER_SECONDS / 60) * 0.01, translation: null, 'tts-1': (chars * 20) / 1e6, 'dall-e-3 hd wide': 0.2, 'dall-e-3 default': 0.05,
    };
    for (const [name, c] of calls) {
      const e = await recorded(c.id);
      const want = name in now ? now[name]! : c.expected;
      if (want === null) expect(e.cost_usd, name).toBeNull();
      else expect(e.cost_usd, name).toBeCloseTo(want, 12);
      expect(e.repriced_at, name).not.toBeNull();
      expect(e.price_version, name).toMatch(/\+custom:[0-9a-f]{12}$/);
    }
  }, 120_000);
});

describe('the built-in mock (no provider key)', () => {
  it('reports what OpenAI reports, so its calls are priced too', async () => {
    const t = await client().audio.transcriptions.create({ file: await toFile(Buffer.alloc(64_000, 1), 'm.wav'), model: 'mock/whisper-1' }).withResponse();
    const w = await recorded(t.response.headers.get('x-gatelog-request-id'));
    // The mock reckons 16 kHz 16-bit mono: 64,000 bytes are 2 seconds.
    expect(w).toMatchObject({ audio_seconds: 2 });
    expect(w.cost_usd).toBeCloseTo((2 / 60) * WHISPER_PER_MINUTE, 12);
    const s = await client().audio.speech.create({ model: 'mock/tts-1', input: 'hello there', voice: 'alloy' }).withResponse();
    await s.data.arrayBuffer();
    const sp = await recorded(s.response.headers.get('x-gatelog-request-id'));
    expect(sp).toMatchObject({ input_characters: 11 });
    expect(sp.cost_usd).toBeCloseTo((11 * TTS_PER_M_CHARS) / 1e6, 12);
    const d = await client().images.generate({ model: 'mock/dall-e-3', prompt: 'a fox', response_format: 'url' }).withResponse();
    const im = await recorded(d.response.headers.get('x-gatelog-request-id'));
    expect(im).toMatchObject({ images: 1 });
    expect(im.cost_usd).toBeCloseTo(0.04, 12);
  });
});

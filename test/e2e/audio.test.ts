// Apps that call OpenAI's audio endpoints keep working when only the base URL changes:
// `audio.transcriptions.create`, `audio.translations.create` (multipart uploads) and
// `audio.speech.create` (JSON in, audio out) with the real `openai` SDK, through /v1, the bare
// origin and the Azure deployment paths. The upload reaches the upstream as the client sent it
// (same bytes, same boundary) unless an alias names another upstream model (then only the model
// field differs); the key's allow-list applies; each call is recorded once with the form's fields
// and the file's name, type and size, never the audio, and with the tokens the upstream reported.
// Bad uploads get OpenAI's 400/413 shape; a kind that cannot serve audio answers 400 before
// anything is sent.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AzureOpenAI, toFile } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith, recordedCall } from '../support/admin-setup.ts';
import { startFakeAudio, TRANSCRIBE_USAGE, type FakeAudio } from '../support/fake-audio-upstream.ts';
import { keepingFetch, type Sent } from '../support/sdk-wire.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
/** Written into every uploaded file: it must never show up in a record. */
const MARKER = `AUDIO-BYTES-${tag}`;

let up: FakeAudio;
let gl: GatelogProcess;
let secret = '';
let chatOnly = '';

interface Stored {
  request_id: string;
  endpoint: string;
  client_api: string;
  upstream_api: string;
  requested_model: string;
  deployment_model: string;
  provider: string;
  status: number;
  outcome: string;
  error_type: string;
  input_tokens: number;
  output_tokens: number;
  input_audio_tokens: number;
  audio_seconds: number;
  input_characters: number;
  tokens_estimated: boolean;
  cost_usd: number | null;
  request_body: string;
  response_body: string;
  truncated: boolean;
  attempt_io: { request_same: boolean; request_body: string; request_bytes: number; request_sha256: string; response_body: string; response_bytes: number }[];
}

const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A WAV file of `bytes` bytes whose samples hold MARKER. */
function wav(bytes: number): Buffer {
  const b = randomBytes(bytes);
  b.write('RIFF', 0, 'ascii');
  b.write('WAVEfmt ', 8, 'ascii');
  for (let at = 64; at + MARKER.length < bytes; at += 256 * 1024) b.write(MARKER, at, 'ascii');
  return b;
}

async function recorded(id: string | null): Promise<Stored> {
  expect(id).toBeTruthy();
  return recordedCall<Stored>(gl, MASTER, id!);
}

/** What the SDK put on the wire, kept before it is sent (the SDK's own fetch, byte for byte). */
const sent: Sent[] = [];
const client = (baseURL: string, apiKey = secret): OpenAI => new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch: keepingFetch(sent) });

/** The record holds nothing of the audio: no marker, and small bodies. */
function noAudioIn(e: Stored): void {
  const all = JSON.stringify(e);
  expect(all).not.toContain(MARKER);
  expect(all).not.toContain('RIFF');
  expect(all.length).toBeLessThan(16 * 1024);
}

beforeAll(async () => {
  up = await startFakeAudio();
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: {
        mock: { kind: 'mock' },
        oai: { kind: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-test-up-000000000000000000' },
        az: { kind: 'azure', base_url: up.url, api_key: 'az-test-000000000000000000000' },
        gq: { kind: 'groq', base_url: `${up.url}/v1`, api_key: 'gsk-test-00000000000000000000' },
        ant: { kind: 'anthropic', base_url: up.url, api_key: 'sk-ant-test-0000000000000000' },
        // Nothing listens on port 9: every attempt there fails to connect.
        dead: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-test-dead-00000000000000000' },
      },
      models: [
        { name: 'chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'gpt-4o-transcribe', deployments: [{ provider: 'oai', model: 'gpt-4o-transcribe' }] },
        // An alias naming another upstream model: the form's model field is rewritten.
        { name: 'whisper', deployments: [{ provider: 'oai', model: 'whisper-1' }] },
        { name: 'tts', deployments: [{ provider: 'oai', model: 'gpt-4o-mini-tts' }] },
        { name: 'az-whisper', deployments: [{ provider: 'az', model: 'whisper-dep' }] },
        { name: 'groq-whisper', deployments: [{ provider: 'gq', model: 'whisper-large-v3' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-haiku-latest' }] },
        // Falls back to `whisper` (another upstream model name) when its own deployment is down.
        { name: 'whisper-fb', deployments: [{ provider: 'dead', model: 'whisper-down' }], fallbacks: ['whisper'] },
        { name: 'mock-whisper', deployments: [{ provider: 'mock', model: 'whisper-1' }] },
        { name: 'mock-tts', deployments: [{ provider: 'mock', model: 'tts-1' }] },
      ],
    },
    timeoutMs: 60_000,
  });
  secret = await newKeyWith(gl.url, MASTER, { name: `audio-${tag}`, models: [] });
  chatOnly = await newKeyWith(gl.url, MASTER, { name: `chat-only-${tag}`, models: ['chat'] });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

describe('audio through gatelog', () => {
  it('transcribes: the exact upload reaches the upstream; recorded with fields, file metadata and reported tokens', async () => {
    const audio = wav(48 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).audio.transcriptions.create({
      file: await toFile(audio, 'a.wav', { type: 'audio/wav' }), model: 'gpt-4o-transcribe', language: 'en', prompt: 'Names: Ada.', temperature: 0,
    }).withResponse();
    expect(r.data.text).toBe(`file sha256 ${sha256(audio)} model gpt-4o-transcribe`);
    const client_ = sent.at(-1)!;
    const got = up.requests[before]!;
    expect(got.path).toBe('/v1/audio/transcriptions');
    // Byte for byte, boundary included.
    expect(got.headers['content-type']).toBe(client_.contentType);
    expect(sha256(got.body)).toBe(sha256(client_.body));
    expect(got.fields).toEqual({ model: 'gpt-4o-transcribe', language: 'en', prompt: 'Names: Ada.', temperature: '0' });
    expect(got.headers['authorization']).toBe('Bearer sk-test-up-000000000000000000');

    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({
      endpoint: '/v1/audio/transcriptions', client_api: 'openai.audio.transcriptions', upstream_api: 'openai.audio.transcriptions',
      requested_model: 'gpt-4o-transcribe', deployment_model: 'gpt-4o-transcribe', status: 200, outcome: 'success',
      input_tokens: TRANSCRIBE_USAGE.input_tokens, output_tokens: TRANSCRIBE_USAGE.output_tokens, input_audio_tokens: 57, tokens_estimated: false, truncated: false,
    });
    // gpt-4o-transcribe's audio input is priced at its audio rate (genai-prices): 4 text + 57 audio in, 19 out.
    expect(e.cost_usd).toBeCloseTo((4 * 2.5 + 57 * 6 + 19 * 10) / 1e6, 12);
    expect(JSON.parse(e.request_body)).toEqual({ model: 'gpt-4o-transcribe', language: 'en', prompt: 'Names: Ada.', temperature: '0', file: { filename: 'a.wav', content_type: 'audio/wav', bytes: audio.length } });
    expect(JSON.parse(e.response_body)).toEqual({ text: r.data.text, usage: TRANSCRIBE_USAGE });
    // The wire record: the client's own bytes went up (hash and size kept, not the bytes).
    expect(e.attempt_io[0]).toMatchObject({ request_same: true, request_body: '', request_bytes: client_.body.length, request_sha256: sha256(client_.body) });
    noAudioIn(e);
  });

  it('an alias naming another upstream model rewrites only the model field; whisper usage (seconds) is 0 tokens, not an estimate, priced by the minute', async () => {
    const audio = wav(20 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).audio.transcriptions.create({
      file: await toFile(audio, 'b.wav', { type: 'audio/wav' }), model: 'whisper', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
    }).withResponse();
    expect(r.data.text).toBe(`file sha256 ${sha256(audio)} model whisper-1`);
    const got = up.requests[before]!;
    const mine = sent.at(-1)!;
    expect(got.headers['content-type']).toBe(mine.contentType);
    expect(got.fields).toEqual({ model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'segment'] });
    // The client's bytes with `whisper` → `whisper-1` in the one part, nothing else.
    expect(got.body.length).toBe(mine.body.length + 2);
    expect(got.body.toString('latin1')).toBe(mine.body.toString('latin1').replace('\r\n\r\nwhisper\r\n', '\r\n\r\nwhisper-1\r\n'));

    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ requested_model: 'whisper', deployment_model: 'whisper-1', input_tokens: 0, output_tokens: 0, tokens_estimated: false, audio_seconds: 3 });
    // whisper-1: $0.006 a minute (https://openai.com/api/pricing/).
    expect(e.cost_usd).toBeCloseTo((3 / 60) * 0.006, 12);
    expect(JSON.parse(e.request_body)).toMatchObject({ model: 'whisper', 'timestamp_granularities[]': ['word', 'segment'], file: { filename: 'b.wav', bytes: audio.length } });
    expect(e.attempt_io[0]).toMatchObject({ request_same: false, request_bytes: got.body.length });
    expect(JSON.parse(e.attempt_io[0]!.request_body)).toMatchObject({ model: 'whisper-1', file: { filename: 'b.wav' } });
    noAudioIn(e);
  });

  it('a fallback to a deployment naming another model sends the form rewritten for it, the file intact', async () => {
    const audio = wav(30 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).audio.transcriptions.create({ file: await toFile(audio, 'fb.wav'), model: 'whisper-fb', language: 'fr' }).withResponse();
    expect(r.data.text).toBe(`file sha256 ${sha256(audio)} model whisper-1`);
    expect(up.requests.length).toBe(before + 1);
    expect(up.requests[before]!.fields).toEqual({ model: 'whisper-1', language: 'fr' });
    expect(up.requests[before]!.headers['content-type']).toBe(sent.at(-1)!.contentType);
    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ requested_model: 'whisper-fb', deployment_model: 'whisper-1', status: 200 });
    expect(e.attempt_io.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(e.attempt_io.at(-1)!.request_body)).toMatchObject({ model: 'whisper-1', language: 'fr', file: { filename: 'fb.wav', bytes: audio.length } });
    noAudioIn(e);
  }, 30_000);

  it('translates, and a 3 MiB file passes intact', async () => {
    const audio = wav(3 * 1024 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).audio.translations.create({ file: await toFile(audio, 'big.wav', { type: 'audio/wav' }), model: 'gpt-4o-transcribe' }).withResponse();
    expect(r.data.text).toBe(`file sha256 ${sha256(audio)} model gpt-4o-transcribe`);
    expect(up.requests[before]!.path).toBe('/v1/audio/translations');
    expect(up.requests[before]!.file).toMatchObject({ name: 'big.wav', type: 'audio/wav', bytes: audio.length });
    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ endpoint: '/v1/audio/translations', client_api: 'openai.audio.translations', status: 200, input_tokens: 0, tokens_estimated: false });
    expect(JSON.parse(e.request_body)).toEqual({ model: 'gpt-4o-transcribe', file: { filename: 'big.wav', content_type: 'audio/wav', bytes: audio.length } });
    noAudioIn(e);
  }, 30_000);

  it('speaks: the audio reaches the client whole; the record keeps its type and size, not the bytes', async () => {
    const before = up.requests.length;
    const res = await client(`${gl.url}/v1`).audio.speech.create({ model: 'tts', input: 'Hello from gatelog.', voice: 'alloy', response_format: 'mp3' }).withResponse();
    const bytes = Buffer.from(await res.data.arrayBuffer());
    expect(sha256(bytes)).toBe(sha256(up.speech));
    expect(res.response.headers.get('content-type')).toBe('audio/mpeg');
    expect(up.requests[before]!.fields).toEqual({ model: 'gpt-4o-mini-tts', input: 'Hello from gatelog.', voice: 'alloy', response_format: 'mp3' });
    const e = await recorded(res.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ endpoint: '/v1/audio/speech', client_api: 'openai.audio.speech', requested_model: 'tts', status: 200, outcome: 'success', input_tokens: 0, output_tokens: 0, tokens_estimated: false, input_characters: 19 });
    // gpt-4o-mini-tts is billed by tokens, and its audio answer reports none: no price, not 0.
    expect(e.cost_usd).toBeNull();
    expect(JSON.parse(e.request_body)).toEqual({ model: 'tts', input: 'Hello from gatelog.', voice: 'alloy', response_format: 'mp3' });
    expect(JSON.parse(e.response_body)).toEqual({ content_type: 'audio/mpeg', bytes: up.speech.length });
    expect(e.attempt_io[0]).toMatchObject({ response_body: '', response_bytes: up.speech.length });
    expect(JSON.stringify(e)).not.toContain(up.speech.subarray(0, 64).toString('latin1'));
  });

  it('works through the bare origin and the Azure deployment path', async () => {
    const audio = wav(8 * 1024);
    const bare = await client(gl.url).audio.transcriptions.create({ file: await toFile(audio, 'c.wav'), model: 'gpt-4o-transcribe', response_format: 'text' }).withResponse();
    expect(bare.data).toBe(`file sha256 ${sha256(audio)} model gpt-4o-transcribe\n`);
    const b = await recorded(bare.response.headers.get('x-gatelog-request-id'));
    expect(b).toMatchObject({ endpoint: '/v1/audio/transcriptions', response_body: `${bare.data}`, input_tokens: 0, tokens_estimated: false });
    const speech = await client(gl.url).audio.speech.create({ model: 'mock-tts', input: 'hi', voice: 'nova' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');

    const before = up.requests.length;
    const azure = new AzureOpenAI({ endpoint: gl.url, apiKey: secret, apiVersion: '2024-10-21', deployment: 'az-whisper', maxRetries: 0 });
    const az = await azure.audio.transcriptions.create({ file: await toFile(audio, 'd.wav'), model: 'ignored-by-azure' }).withResponse();
    const got = up.requests[before]!;
    expect(got.path).toBe('/openai/deployments/whisper-dep/audio/transcriptions?api-version=2024-10-21');
    expect(got.headers['api-key']).toBe('az-test-000000000000000000000');
    expect(got.file?.sha256).toBe(sha256(audio));
    expect(az.data.text).toContain(sha256(audio));
    const a = await recorded(az.response.headers.get('x-gatelog-request-id'));
    expect(a).toMatchObject({ endpoint: '/v1/audio/transcriptions', requested_model: 'az-whisper', deployment_model: 'whisper-dep', provider: 'az' });
    const azSpeech = await azure.audio.speech.create({ model: 'ignored-by-azure', input: 'hi', voice: 'alloy' });
    expect(sha256(Buffer.from(await azSpeech.arrayBuffer()))).toBe(sha256(up.speech));
    expect(up.requests.at(-1)!.path).toBe('/openai/deployments/whisper-dep/audio/speech?api-version=2024-10-21');
  });

  it('redaction: `forward` redacts the text fields sent upstream (the file intact); metadata_only stores no body', async () => {
    const audio = wav(4096);
    const before = up.requests.length;
    const fwd = await client(`${gl.url}/v1`).audio.transcriptions.create(
      { file: await toFile(audio, 'e.wav'), model: 'gpt-4o-transcribe', prompt: 'Speaker: ann@example.com' },
      { headers: { 'x-gatelog-redact': 'forward' } },
    ).withResponse();
    const got = up.requests[before]!;
    expect(got.fields).toEqual({ model: 'gpt-4o-transcribe', prompt: 'Speaker: [EMAIL_1]' });
    expect(got.file?.sha256).toBe(sha256(audio));
    expect(got.headers['content-type']).toBe(sent.at(-1)!.contentType);
    const e = await recorded(fwd.response.headers.get('x-gatelog-request-id'));
    expect(JSON.stringify(e)).not.toContain('ann@example.com');
    expect(JSON.parse(e.request_body)).toMatchObject({ prompt: 'Speaker: [EMAIL_1]', file: { filename: 'e.wav', bytes: audio.length } });

    const meta = await client(`${gl.url}/v1`).audio.transcriptions.create(
      { file: await toFile(audio, 'f.wav'), model: 'gpt-4o-transcribe', prompt: 'secret words' },
      { headers: { 'x-gatelog-redact': 'metadata_only' } },
    ).withResponse();
    const m = await recorded(meta.response.headers.get('x-gatelog-request-id'));
    expect(m).toMatchObject({ request_body: '', response_body: '', status: 200, input_tokens: TRANSCRIBE_USAGE.input_tokens });
    expect(JSON.stringify(m)).not.toContain('secret words');
  });

  it('the built-in mock answers in OpenAI\'s shapes', async () => {
    const c = client(`${gl.url}/v1`);
    const t = await c.audio.transcriptions.create({ file: await toFile(wav(64_000), 'm.wav'), model: 'mock-whisper' });
    expect(t.text).toBe('Mock transcription of m.wav.');
    const v = await c.audio.translations.create({ file: await toFile(wav(1000), 'm.wav'), model: 'mock-whisper', response_format: 'srt' });
    expect(v).toMatch(/^1\n00:00:00,000 --> 00:00:01,000\nMock translation of m\.wav\.\n/);
    const s = Buffer.from(await (await c.audio.speech.create({ model: 'mock-tts', input: 'hello there', voice: 'alloy', response_format: 'wav' })).arrayBuffer());
    expect(s.subarray(0, 4).toString('ascii')).toBe('RIFF');
    // Any mock model as provider/model (as with `npm start` and no provider key): gpt-4o-transcribe's usage.
    const g = await c.audio.transcriptions.create({ file: await toFile(wav(64_000), 'g.wav'), model: 'mock/gpt-4o-transcribe' }).withResponse();
    const e = await recorded(g.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ requested_model: 'mock/gpt-4o-transcribe', deployment_model: 'gpt-4o-transcribe', input_tokens: 20, input_audio_tokens: 20, tokens_estimated: false });
    expect(e.output_tokens).toBeGreaterThan(0);
  });

  it('refuses bad uploads in OpenAI\'s error shape', async () => {
    const post = (path: string, body: FormData | string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${gl.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, ...headers }, body });
    const err = async (r: Response): Promise<[number, string, string | null]> => {
      const j = (await r.json()) as { error: { code: string; type: string; param: string | null; message: string } };
      expect(j.error.type).toBe('invalid_request_error');
      expect(typeof j.error.message).toBe('string');
      return [r.status, j.error.code, j.error.param];
    };
    const form = (fields: Record<string, string>, file?: Buffer): FormData => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      if (file) f.append('file', new Blob([new Uint8Array(file)], { type: 'audio/wav' }), 'x.wav');
      return f;
    };
    const before = up.requests.length;
    expect(await err(await post('/v1/audio/transcriptions', form({ model: 'gpt-4o-transcribe' })))).toEqual([400, 'missing_file', 'file']);
    expect(await err(await post('/v1/audio/translations', form({}, wav(1000))))).toEqual([400, 'missing_model', 'model']);
    expect(await err(await post('/v1/audio/transcriptions', JSON.stringify({ model: 'gpt-4o-transcribe' }), { 'content-type': 'application/json' }))).toEqual([400, 'invalid_content_type', null]);
    expect(await err(await post('/v1/audio/transcriptions', form({ model: 'gpt-4o-transcribe', stream: 'true' }, wav(1000))))).toEqual([400, 'stream_unsupported', 'stream']);
    const speech = await post('/v1/audio/speech', JSON.stringify({ model: 'tts', input: 'x', voice: 'alloy', stream_format: 'sse' }), { 'content-type': 'application/json' });
    expect(await err(speech)).toEqual([400, 'stream_unsupported', 'stream_format']);
    expect(await err(await post('/v1/audio/speech', JSON.stringify({ model: 'tts', voice: 'alloy' }), { 'content-type': 'application/json' }))).toEqual([400, 'missing_input', 'input']);
    // Over OpenAI's 25 MB file limit (the form itself within gatelog's body limit).
    const over = await post('/v1/audio/transcriptions', form({ model: 'gpt-4o-transcribe' }, Buffer.alloc(25 * 1024 * 1024 + 1)));
    expect(await err(over)).toEqual([413, 'file_too_large', 'file']);
    // A declared length past the form limit is answered before the body is read.
    const huge = await post('/v1/audio/transcriptions', form({ model: 'gpt-4o-transcribe' }, Buffer.alloc(27 * 1024 * 1024))).catch((e: unknown) => e);
    // (The client may also see the connection close while still sending.)
    if (huge instanceof Response) expect(await err(huge)).toEqual([413, 'file_too_large', 'file']);
    const unknown = await post('/v1/audio/transcriptions', form({ model: `no-such-${tag}` }, wav(1000)));
    expect(unknown.status).toBe(404);
    expect(up.requests.length).toBe(before);

    // The refused upload is recorded like any refused call, by its fields and file metadata.
    const missing = await post('/v1/audio/transcriptions', form({ model: 'gpt-4o-transcribe', language: 'de', stream: 'true' }, wav(4096)));
    const m = await recorded(missing.headers.get('x-gatelog-request-id'));
    expect(m).toMatchObject({ client_api: 'openai.audio.transcriptions', status: 400, outcome: 'refused' });
    expect(JSON.parse(m.request_body)).toMatchObject({ model: 'gpt-4o-transcribe', language: 'de', file: { filename: 'x.wav', bytes: 4096 } });
    noAudioIn(m);
  }, 60_000);

  it('a key not allowed the model, and a kind that cannot serve audio, are refused before anything is sent', async () => {
    const before = up.requests.length;
    const limited = client(`${gl.url}/v1`, chatOnly);
    for (const call of [
      async () => limited.audio.transcriptions.create({ file: await toFile(wav(1000), 'x.wav'), model: 'gpt-4o-transcribe' }),
      () => limited.audio.speech.create({ model: 'tts', input: 'x', voice: 'alloy' }),
    ]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    }
    const c = client(`${gl.url}/v1`);
    const cases: [string, string, () => Promise<unknown>][] = [
      ['Anthropic', 'transcriptions', async () => c.audio.transcriptions.create({ file: await toFile(wav(1000), 'x.wav'), model: 'claude' })],
      ['Anthropic', 'speech', () => c.audio.speech.create({ model: 'claude', input: 'x', voice: 'alloy' })],
      ['groq', 'speech', () => c.audio.speech.create({ model: 'groq-whisper', input: 'x', voice: 'alloy' })],
    ];
    for (const [kind, ep, call] of cases) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      const err = e as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err.code).toBe('unsupported_api');
      expect(err.message).toMatch(new RegExp(`POST /v1/audio/${ep} .* not available for ${kind} deployments`));
    }
    expect(up.requests.length).toBe(before);
    // Groq serves transcriptions in OpenAI's shape.
    const g = await c.audio.transcriptions.create({ file: await toFile(wav(2000), 'g.wav'), model: 'groq-whisper' });
    expect(g.text).toContain('model whisper-large-v3');
    expect(up.requests[before]!.path).toBe('/v1/audio/transcriptions');
  });
});

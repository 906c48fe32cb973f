// Apps that edit images or ask for variations keep working when only the base URL changes:
// `images.edit` (one image or an `image[]` array, an optional mask) and `images.createVariation`
// with the real `openai` SDK, through /v1, the bare origin and the Azure deployment paths. The
// upload reaches the upstream as the client sent it (same bytes, same boundary) unless an alias
// names another upstream model (then only the model field differs); the key's allow-list
// applies; each call is recorded once with the form's text fields and each file's field, name,
// type and size, never the image bytes, with the answer stored as images.generations stores
// it (cut at the body cap) and the tokens the upstream reported (0 when none, never estimated).
// Bad uploads get OpenAI's 400/413 shape; a kind that cannot serve them answers 400 before
// anything is sent.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AzureOpenAI, toFile } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith, recordedCall } from '../support/admin-setup.ts';
import { EDIT_USAGE, seen, startFakeImages, type FakeImages } from '../support/fake-image-upstream.ts';
import { keepingFetch, type Sent } from '../support/sdk-wire.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
/** Written into every uploaded image: it must never show up in a record. */
const MARKER = `IMAGE-BYTES-${tag}`;
/** Stored bodies are cut here; the large answer is several times this. */
const BODY_CAP = 64 * 1024;
/** gatelog's limit on one image upload form (README). */
const FORM_MAX_BYTES = 50 * 1024 * 1024;

let up: FakeImages;
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
  user: string;
  status: number;
  outcome: string;
  input_tokens: number;
  output_tokens: number;
  tokens_estimated: boolean;
  cost_usd: number | null;
  images: number;
  image_size: string;
  request_body: string;
  response_body: string;
  response_bytes: number;
  truncated: boolean;
  attempt_io: { request_same: boolean; request_body: string; request_bytes: number; request_sha256: string }[];
}

interface ShownFile {
  field: string;
  filename: string;
  content_type: string;
  bytes: number;
}

const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A PNG-looking file of `bytes` bytes holding MARKER. */
function png(bytes: number): Buffer {
  const b = randomBytes(bytes);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  for (let at = 64; at + MARKER.length < bytes; at += 128 * 1024) b.write(MARKER, at, 'ascii');
  return b;
}

async function recorded(id: string | null): Promise<Stored> {
  expect(id).toBeTruthy();
  return recordedCall<Stored>(gl, MASTER, id!);
}

/** What the SDK put on the wire, kept before it is sent (the SDK's own fetch, byte for byte). */
const sent: Sent[] = [];
const client = (baseURL: string, apiKey = secret): OpenAI => new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch: keepingFetch(sent) });

/** The record holds nothing of the images: no marker, no PNG signature, and small bodies. */
function noImageIn(e: Stored): void {
  const all = JSON.stringify(e);
  expect(all).not.toContain(MARKER);
  expect(all).not.toContain('\\u0089PNG');
  expect(all).not.toContain(Buffer.from(MARKER).toString('base64').slice(0, 12));
  expect(all.length).toBeLessThan(BODY_CAP * 3);
}

beforeAll(async () => {
  up = await startFakeImages();
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      logging: { body_cap_bytes: BODY_CAP },
      ingest: { batch_ms: 50 },
      providers: {
        mock: { kind: 'mock' },
        oai: { kind: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-test-up-000000000000000000' },
        az: { kind: 'azure', base_url: up.url, api_key: 'az-test-000000000000000000000' },
        gq: { kind: 'groq', base_url: `${up.url}/v1`, api_key: 'gsk-test-00000000000000000000' },
        ant: { kind: 'anthropic', base_url: up.url, api_key: 'sk-ant-test-0000000000000000' },
      },
      models: [
        { name: 'chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'gpt-image-1', deployments: [{ provider: 'oai', model: 'gpt-image-1' }] },
        { name: 'dall-e-2', deployments: [{ provider: 'oai', model: 'dall-e-2' }] },
        // An alias naming another upstream model: the form's model field is rewritten.
        { name: 'editor', deployments: [{ provider: 'oai', model: 'gpt-image-1' }] },
        { name: 'az-image', deployments: [{ provider: 'az', model: 'image-dep' }] },
        { name: 'groq-llama', deployments: [{ provider: 'gq', model: 'llama-3.3-70b-versatile' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-haiku-latest' }] },
      ],
    },
    timeoutMs: 60_000,
  });
  secret = await newKeyWith(gl.url, MASTER, { name: `img-${tag}`, models: [] });
  chatOnly = await newKeyWith(gl.url, MASTER, { name: `chat-only-${tag}`, models: ['chat'] });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

describe('images.edit and images.createVariation through gatelog', () => {
  it('edits: the exact upload reaches the upstream; recorded with fields, file metadata and reported tokens', async () => {
    const image = png(300 * 1024);
    const mask = png(20 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).images.edit({
      image: await toFile(image, 'room.png', { type: 'image/png' }), mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      prompt: 'Add a red sofa', model: 'gpt-image-1', n: 1, size: '1024x1024', quality: 'low',
    }).withResponse();
    const mine = sent.at(-1)!;
    const got = up.requests[before]!;
    expect(up.requests.length).toBe(before + 1);
    expect(got.path).toBe('/v1/images/edits');
    // Byte for byte, boundary included.
    expect(got.headers['content-type']).toBe(mine.contentType);
    expect(sha256(got.body)).toBe(sha256(mine.body));
    expect(got.headers['authorization']).toBe('Bearer sk-test-up-000000000000000000');
    expect(got.fields).toEqual({ model: 'gpt-image-1', prompt: 'Add a red sofa', n: '1', size: '1024x1024', quality: 'low' });
    expect(got.files.map((f) => [f.field, f.name, f.sha256])).toEqual([['image', 'room.png', sha256(image)], ['mask', 'mask.png', sha256(mask)]]);
    expect(r.data.data?.[0]?.revised_prompt).toBe(seen('gpt-image-1', [{ field: 'image', sha256: sha256(image) }, { field: 'mask', sha256: sha256(mask) }]));

    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    const input = EDIT_USAGE.textTokens + EDIT_USAGE.imageTokensPerImage;
    expect(e).toMatchObject({
      endpoint: '/v1/images/edits', client_api: 'openai.images.edits', upstream_api: 'openai.images.edits', requested_model: 'gpt-image-1',
      deployment_model: 'gpt-image-1', provider: 'oai', status: 200, outcome: 'success',
      input_tokens: input, output_tokens: EDIT_USAGE.outputTokensPerImage, tokens_estimated: false, truncated: false,
    });
    expect(JSON.parse(e.request_body)).toEqual({
      model: 'gpt-image-1', prompt: 'Add a red sofa', n: '1', size: '1024x1024', quality: 'low',
      files: [{ field: 'image', filename: 'room.png', content_type: 'image/png', bytes: image.length }, { field: 'mask', filename: 'mask.png', content_type: 'image/png', bytes: mask.length }],
    });
    // The answer as images.generations stores it: the JSON body as received.
    expect(JSON.parse(e.response_body)).toEqual(r.data);
    // The wire record: the client's own bytes went up (hash and size kept, not the bytes).
    expect(e.attempt_io[0]).toMatchObject({ request_same: true, request_body: '', request_bytes: mine.body.length, request_sha256: sha256(mine.body) });
    noImageIn(e);
  });

  it('an `image[]` array of several images, through an alias naming another upstream model: only the model field is rewritten', async () => {
    const images = [png(40 * 1024), png(50 * 1024), png(60 * 1024)];
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).images.edit({
      image: await Promise.all(images.map((b, i) => toFile(b, `in-${i}.png`, { type: 'image/png' }))), prompt: 'A gift basket of these', model: 'editor', n: 2,
    }).withResponse();
    expect(r.data.data).toHaveLength(2);
    const got = up.requests[before]!;
    const mine = sent.at(-1)!;
    expect(got.headers['content-type']).toBe(mine.contentType);
    expect(got.fields).toEqual({ model: 'gpt-image-1', prompt: 'A gift basket of these', n: '2' });
    expect(got.files.map((f) => [f.field, f.name, f.sha256])).toEqual(images.map((b, i) => ['image[]', `in-${i}.png`, sha256(b)]));
    // The client's bytes with `editor` → `gpt-image-1` in the one part, nothing else.
    expect(got.body.length).toBe(mine.body.length + 'gpt-image-1'.length - 'editor'.length);
    expect(got.body.toString('latin1')).toBe(mine.body.toString('latin1').replace('\r\n\r\neditor\r\n', '\r\n\r\ngpt-image-1\r\n'));

    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    const input = EDIT_USAGE.textTokens + EDIT_USAGE.imageTokensPerImage * 3;
    expect(e).toMatchObject({ requested_model: 'editor', deployment_model: 'gpt-image-1', input_tokens: input, output_tokens: 2 * EDIT_USAGE.outputTokensPerImage, tokens_estimated: false });
    const req = JSON.parse(e.request_body) as { model: string; files: ShownFile[] };
    expect(req.model).toBe('editor');
    expect(req.files).toEqual(images.map((b, i) => ({ field: 'image[]', filename: `in-${i}.png`, content_type: 'image/png', bytes: b.length })));
    expect(e.attempt_io[0]).toMatchObject({ request_same: false, request_bytes: got.body.length, request_sha256: sha256(got.body) });
    expect(JSON.parse(e.attempt_io[0]!.request_body)).toMatchObject({ model: 'gpt-image-1', files: req.files });
    noImageIn(e);
  });

  it('variations (DALL·E 2): no usage reported, so 0 tokens, never an estimate; priced per image by size', async () => {
    const image = png(100 * 1024);
    const before = up.requests.length;
    const r = await client(`${gl.url}/v1`).images.createVariation({ image: await toFile(image, 'cat.png', { type: 'image/png' }), model: 'dall-e-2', n: 2, size: '256x256', response_format: 'url' }).withResponse();
    expect(r.data.data?.map((d) => d.url)).toEqual(['https://images.invalid/0.png', 'https://images.invalid/1.png']);
    const got = up.requests[before]!;
    expect(got.path).toBe('/v1/images/variations');
    expect(sha256(got.body)).toBe(sha256(sent.at(-1)!.body));
    const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ endpoint: '/v1/images/variations', client_api: 'openai.images.variations', requested_model: 'dall-e-2', status: 200, outcome: 'success', input_tokens: 0, output_tokens: 0, tokens_estimated: false, images: 2, image_size: '256x256' });
    // Billed per image instead: DALL·E 2 at 256x256 is $0.016 each (https://openai.com/api/pricing/).
    expect(e.cost_usd).toBeCloseTo(2 * 0.016, 12);
    expect(JSON.parse(e.request_body)).toEqual({ model: 'dall-e-2', n: '2', size: '256x256', response_format: 'url', files: [{ field: 'image', filename: 'cat.png', content_type: 'image/png', bytes: image.length }] });
    expect(JSON.parse(e.response_body)).toEqual(r.data);
    noImageIn(e);
  });

  it('a large base64 answer reaches the client whole; the stored body keeps to the cap, the usage after it still read', async () => {
    up.imageBytes(300 * 1024);
    try {
      const r = await client(`${gl.url}/v1`).images.edit({ image: await toFile(png(4096), 'small.png', { type: 'image/png' }), prompt: 'Bigger', model: 'gpt-image-1' }).withResponse();
      expect(Buffer.from(r.data.data?.[0]?.b64_json ?? '', 'base64').length).toBe(300 * 1024);
      const e = await recorded(r.response.headers.get('x-gatelog-request-id'));
      expect(e).toMatchObject({ client_api: 'openai.images.edits', status: 200, truncated: true, input_tokens: EDIT_USAGE.textTokens + EDIT_USAGE.imageTokensPerImage, output_tokens: EDIT_USAGE.outputTokensPerImage, tokens_estimated: false });
      expect(Buffer.byteLength(e.response_body)).toBeLessThanOrEqual(BODY_CAP);
      expect(e.response_bytes).toBeGreaterThan(400 * 1024);
    } finally {
      up.imageBytes(64);
    }
  });

  it('works through the bare origin and the Azure deployment path', async () => {
    const image = png(8 * 1024);
    const before = up.requests.length;
    const bare = await client(gl.url).images.edit({ image: await toFile(image, 'b.png', { type: 'image/png' }), prompt: 'x', model: 'gpt-image-1' }).withResponse();
    expect(up.requests[before]!.path).toBe('/v1/images/edits');
    const b = await recorded(bare.response.headers.get('x-gatelog-request-id'));
    expect(b).toMatchObject({ endpoint: '/v1/images/edits', client_api: 'openai.images.edits', status: 200 });
    const v = await client(gl.url).images.createVariation({ image: await toFile(image, 'v.png', { type: 'image/png' }), model: 'dall-e-2' }).withResponse();
    expect(up.requests.at(-1)!.path).toBe('/v1/images/variations');
    expect((await recorded(v.response.headers.get('x-gatelog-request-id'))).endpoint).toBe('/v1/images/variations');

    const azure = new AzureOpenAI({ endpoint: gl.url, apiKey: secret, apiVersion: '2024-10-21', deployment: 'az-image', maxRetries: 0 });
    const az = await azure.images.edit({ image: await toFile(image, 'az.png', { type: 'image/png' }), prompt: 'y', model: 'ignored-by-azure' }).withResponse();
    const got = up.requests.at(-1)!;
    expect(got.path).toBe('/openai/deployments/image-dep/images/edits?api-version=2024-10-21');
    expect(got.headers['api-key']).toBe('az-test-000000000000000000000');
    expect(got.files[0]?.sha256).toBe(sha256(image));
    expect(got.fields['model']).toBe('image-dep');
    const a = await recorded(az.response.headers.get('x-gatelog-request-id'));
    expect(a).toMatchObject({ endpoint: '/v1/images/edits', requested_model: 'az-image', deployment_model: 'image-dep', provider: 'az', status: 200 });
    noImageIn(a);
    // Azure serves no DALL·E 2, so no variations (its SDK has no deployment path for them): an
    // alias on an Azure deployment is refused before anything is sent.
    const n = up.requests.length;
    const e = await client(`${gl.url}/v1`).images.createVariation({ image: await toFile(image, 'az.png', { type: 'image/png' }), model: 'az-image' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/POST \/v1\/images\/variations .* not available for azure deployments/);
    expect(up.requests.length).toBe(n);
  });

  it('`forward` redaction redacts the text fields sent upstream (the images intact); a key requiring an end user reads the form\'s `user`', async () => {
    const image = png(4096);
    const before = up.requests.length;
    const fwd = await client(`${gl.url}/v1`).images.edit(
      { image: await toFile(image, 'r.png', { type: 'image/png' }), model: 'gpt-image-1', prompt: 'Add a sign saying ann@example.com' },
      { headers: { 'x-gatelog-redact': 'forward' } },
    ).withResponse();
    const got = up.requests[before]!;
    expect(got.fields).toEqual({ model: 'gpt-image-1', prompt: 'Add a sign saying [EMAIL_1]' });
    expect(got.files[0]?.sha256).toBe(sha256(image));
    expect(got.headers['content-type']).toBe(sent.at(-1)!.contentType);
    const e = await recorded(fwd.response.headers.get('x-gatelog-request-id'));
    expect(JSON.stringify(e)).not.toContain('ann@example.com');
    expect(JSON.parse(e.request_body)).toMatchObject({ prompt: 'Add a sign saying [EMAIL_1]', files: [{ field: 'image', filename: 'r.png', bytes: image.length }] });

    const needsUser = await newKeyWith(gl.url, MASTER, { name: `needs-user-${tag}`, models: [], require_user: true });
    const c = client(`${gl.url}/v1`, needsUser);
    const n = up.requests.length;
    const refused = await c.images.edit({ image: await toFile(image, 'u.png', { type: 'image/png' }), model: 'gpt-image-1', prompt: 'x' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('user_required');
    expect(up.requests.length).toBe(n);
    const ok = await c.images.createVariation({ image: await toFile(image, 'u.png', { type: 'image/png' }), model: 'dall-e-2', user: 'end-user-7' }).withResponse();
    expect(up.requests.length).toBe(n + 1);
    expect(await recorded(ok.response.headers.get('x-gatelog-request-id'))).toMatchObject({ status: 200, user: 'end-user-7' });
  });

  it('the built-in mock answers both in OpenAI\'s shapes', async () => {
    const c = client(`${gl.url}/v1`);
    const ed = await c.images.edit({ image: [await toFile(png(2048), 'a.png', { type: 'image/png' }), await toFile(png(2048), 'b.png', { type: 'image/png' })], prompt: 'a mock edit', model: 'mock/gpt-image-1' }).withResponse();
    expect(ed.data.data?.[0]?.b64_json).toMatch(/^iVBOR/);
    expect(ed.data.usage?.input_tokens_details.image_tokens).toBeGreaterThan(0);
    const e = await recorded(ed.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ client_api: 'openai.images.edits', deployment_model: 'gpt-image-1', input_tokens: ed.data.usage?.input_tokens, output_tokens: ed.data.usage?.output_tokens, tokens_estimated: false });
    const va = await c.images.createVariation({ image: await toFile(png(2048), 'c.png', { type: 'image/png' }), model: 'mock/dall-e-2', n: 2, response_format: 'url' });
    expect(va.data?.map((d) => d.url)).toEqual([expect.stringMatching(/^https:\/\//), expect.stringMatching(/^https:\/\//)]);
    expect(va.usage).toBeUndefined();
  });

  it('refuses bad uploads in OpenAI\'s error shape, before anything is sent', async () => {
    const post = (path: string, body: FormData | string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${gl.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, ...headers }, body });
    const err = async (r: Response): Promise<[number, string, string | null]> => {
      const j = (await r.json()) as { error: { code: string; type: string; param: string | null; message: string } };
      expect(j.error.type).toBe('invalid_request_error');
      expect(typeof j.error.message).toBe('string');
      return [r.status, j.error.code, j.error.param];
    };
    const form = (fields: Record<string, string>, image?: Buffer, name = 'image'): FormData => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      if (image) f.append(name, new Blob([new Uint8Array(image)], { type: 'image/png' }), 'x.png');
      return f;
    };
    const before = up.requests.length;
    expect(await err(await post('/v1/images/edits', form({ model: 'gpt-image-1', prompt: 'x' })))).toEqual([400, 'missing_image', 'image']);
    expect(await err(await post('/v1/images/variations', form({ model: 'dall-e-2' })))).toEqual([400, 'missing_image', 'image']);
    // A mask alone is not an image.
    expect(await err(await post('/v1/images/edits', form({ model: 'gpt-image-1', prompt: 'x' }, png(100), 'mask')))).toEqual([400, 'missing_image', 'image']);
    expect(await err(await post('/v1/images/edits', form({ model: 'gpt-image-1' }, png(100))))).toEqual([400, 'missing_prompt', 'prompt']);
    // OpenAI defaults the model to dall-e-2; gatelog routes by alias, so one must be named.
    expect(await err(await post('/v1/images/edits', form({ prompt: 'x' }, png(100))))).toEqual([400, 'missing_model', 'model']);
    expect(await err(await post('/images/variations', form({}, png(100))))).toEqual([400, 'missing_model', 'model']);
    expect(await err(await post('/v1/images/edits', form({ model: 'gpt-image-1', prompt: 'x', stream: 'true' }, png(100))))).toEqual([400, 'stream_unsupported', 'stream']);
    expect(await err(await post('/v1/images/edits', JSON.stringify({ model: 'gpt-image-1', prompt: 'x' }), { 'content-type': 'application/json' }))).toEqual([400, 'invalid_content_type', null]);
    const unknown = await post('/v1/images/edits', form({ model: `no-such-${tag}`, prompt: 'x' }, png(100)));
    expect(unknown.status).toBe(404);

    // A form over the limit: a declared length past it is answered before the body is read.
    const tooBig = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${gl.url}/v1/images/edits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(FORM_MAX_BYTES + 1) },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.write('--b\r\n');
    });
    expect(tooBig.status).toBe(413);
    expect((JSON.parse(tooBig.body) as { error: { code: string; type: string; param: string } }).error).toMatchObject({ code: 'file_too_large', type: 'invalid_request_error', param: 'image' });
    expect(up.requests.length).toBe(before);

    // The refused upload is recorded like any refused call, by its fields and file metadata.
    const refused = await post('/v1/images/edits', form({ model: 'gpt-image-1', prompt: 'keep me', stream: 'true' }, png(4096)));
    const m = await recorded(refused.headers.get('x-gatelog-request-id'));
    expect(m).toMatchObject({ client_api: 'openai.images.edits', status: 400, outcome: 'refused' });
    expect(JSON.parse(m.request_body)).toEqual({ model: 'gpt-image-1', prompt: 'keep me', stream: 'true', files: [{ field: 'image', filename: 'x.png', content_type: 'image/png', bytes: 4096 }] });
    noImageIn(m);
  }, 60_000);

  it('a key not allowed the model, and a kind that cannot serve them, are refused before anything is sent', async () => {
    const before = up.requests.length;
    const limited = client(`${gl.url}/v1`, chatOnly);
    for (const call of [
      async () => limited.images.edit({ image: await toFile(png(1000), 'x.png', { type: 'image/png' }), prompt: 'x', model: 'gpt-image-1' }),
      async () => limited.images.createVariation({ image: await toFile(png(1000), 'x.png', { type: 'image/png' }), model: 'dall-e-2' }),
    ]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    }
    const c = client(`${gl.url}/v1`);
    const cases: [string, string, () => Promise<unknown>][] = [
      ['groq', 'edits', async () => c.images.edit({ image: await toFile(png(1000), 'x.png'), prompt: 'x', model: 'groq-llama' })],
      ['groq', 'variations', async () => c.images.createVariation({ image: await toFile(png(1000), 'x.png'), model: 'groq-llama' })],
      ['Anthropic', 'edits', async () => c.images.edit({ image: await toFile(png(1000), 'x.png'), prompt: 'x', model: 'claude' })],
    ];
    for (const [kind, ep, call] of cases) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      const err = e as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err.code).toBe('unsupported_api');
      expect(err.message).toMatch(new RegExp(`POST /v1/images/${ep} .* not available for ${kind} deployments`));
    }
    expect(up.requests.length).toBe(before);
  });
});

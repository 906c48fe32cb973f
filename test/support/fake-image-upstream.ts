// A fake OpenAI (and Azure OpenAI) image-upload upstream for tests: node:http on 127.0.0.1,
// port 0, keeping every request's exact bytes and content type, reading the form with an
// independent parser (the platform's `Response#formData()`, as fake-audio-upstream.ts does) and
// answering POST /images/edits and /images/variations in OpenAI's wire format: GPT Image models
// with `b64_json` and `usage` (input tokens split into text and image tokens), DALL·E 2 with
// `url` or `b64_json` as asked and no usage. Each image's `revised_prompt` names what arrived
// (the model field and every file's field and SHA-256), so a test sees the upload intact.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readUpload, type UploadedFile } from './fake-audio-upstream.ts';

export interface ImageRequest {
  method: string;
  /** Path with query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Request body bytes exactly as received. */
  body: Buffer;
  fields: Record<string, unknown>;
  files: UploadedFile[];
}

export interface FakeImages {
  url: string;
  requests: ImageRequest[];
  /** Bytes of each answered image (before base64): large to see the stored body cut at its cap. */
  imageBytes(n: number): void;
  close(): Promise<void>;
}

/** Text and image tokens a GPT Image edit reports per input image, and its output per image. */
export const EDIT_USAGE = { textTokens: 9, imageTokensPerImage: 194, outputTokensPerImage: 272 } as const;

/** What the upstream saw, as written into each answered image's `revised_prompt`. */
export const seen = (model: string, files: readonly { field: string; sha256: string }[]): string =>
  `model ${model} files ${files.map((f) => `${f.field}:${f.sha256}`).join(',')}`;

export async function startFakeImages(): Promise<FakeImages> {
  const requests: ImageRequest[] = [];
  let imageBytes = 64;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(parts);
        const path = req.url ?? '';
        const json = (status: number, v: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_img_${requests.length}` });
          res.end(JSON.stringify(v));
        };
        const r: ImageRequest = { method: req.method ?? '', path, headers: req.headers, body, fields: {}, files: [] };
        requests.push(r);
        const route = path.split('?')[0]!.replace(/^\/openai\/deployments\/[^/]+/, '/v1');
        if (route !== '/v1/images/edits' && route !== '/v1/images/variations') return json(404, { error: { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
        try {
          Object.assign(r, await readUpload(body, req.headers['content-type'] ?? ''));
        } catch {
          return json(400, { error: { message: 'Could not parse multipart form', type: 'invalid_request_error', param: null, code: null } });
        }
        const images = r.files.filter((f) => f.field === 'image' || f.field === 'image[]');
        if (images.length === 0) return json(400, { error: { message: "you must provide an 'image'", type: 'invalid_request_error', param: 'image', code: null } });
        const model = typeof r.fields['model'] === 'string' ? r.fields['model'] : 'dall-e-2';
        const n = Number(typeof r.fields['n'] === 'string' ? r.fields['n'] : '1');
        const revised = seen(model, r.files);
        // Not a real PNG: distinct bytes whose base64 would show if a stored body kept them.
        const b64 = Buffer.from(Array.from({ length: imageBytes }, (_x, i) => (i * 151 + 3) % 256)).toString('base64');
        const created = 1_767_225_600;
        if (model.startsWith('dall-e')) {
          const url = r.fields['response_format'] === 'url';
          return json(200, { created, data: Array.from({ length: n }, (_x, i) => ({ ...(url ? { url: `https://images.invalid/${i}.png` } : { b64_json: b64 }), revised_prompt: revised })) });
        }
        const input = EDIT_USAGE.textTokens + EDIT_USAGE.imageTokensPerImage * images.length;
        const output = EDIT_USAGE.outputTokensPerImage * n;
        // Usage after the images, as OpenAI writes it: past a stored body's cap when the images are large.
        json(200, {
          created,
          data: Array.from({ length: n }, () => ({ b64_json: b64, revised_prompt: revised })),
          usage: { input_tokens: input, input_tokens_details: { text_tokens: EDIT_USAGE.textTokens, image_tokens: input - EDIT_USAGE.textTokens }, output_tokens: output, total_tokens: input + output },
        });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    imageBytes(n) {
      imageBytes = n;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

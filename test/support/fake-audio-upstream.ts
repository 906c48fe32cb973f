// A fake OpenAI (and Azure OpenAI) audio upstream for tests: node:http on 127.0.0.1, port 0,
// keeping every request's exact bytes and content type, reading uploads with an independent
// form parser (the platform's `Response#formData()`), and answering in OpenAI's wire format:
// transcriptions as `{text, usage}` (gpt-4o-transcribe's token usage, or whisper's duration),
// translations as `{text}`, speech as audio bytes. The transcript names what arrived (the file's
// SHA-256 and the model field), so a test can see the upload reached the upstream intact.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AudioRequest {
  method: string;
  /** Path with query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Request body bytes exactly as received. */
  body: Buffer;
  /** Plain fields of an upload (a repeated name as an array), or the JSON body of speech. */
  fields: Record<string, unknown>;
  file: { name: string; type: string; sha256: string; bytes: number } | null;
}

/** One file of an upload as the platform's form parser read it, by the field it came in. */
export interface UploadedFile {
  field: string;
  name: string;
  type: string;
  sha256: string;
  bytes: number;
}

export interface FakeAudio {
  url: string;
  requests: AudioRequest[];
  /** The bytes every speech answer carries. */
  speech: Buffer;
  close(): Promise<void>;
}

/** Usage a gpt-4o-transcribe answer reports. */
export const TRANSCRIBE_USAGE = { type: 'tokens', input_tokens: 61, input_token_details: { text_tokens: 4, audio_tokens: 57 }, output_tokens: 19, total_tokens: 80 } as const;

const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** An upload read by the platform's `Response#formData()`: plain fields (a repeated name as an array) and every file, in order. */
export async function readUpload(body: Buffer, contentType: string): Promise<{ fields: Record<string, unknown>; files: UploadedFile[] }> {
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, unknown> = {};
  const files: UploadedFile[] = [];
  for (const [k, v] of form.entries()) {
    if (typeof v !== 'string') {
      const bytes = new Uint8Array(await v.arrayBuffer());
      files.push({ field: k, name: v.name, type: v.type, sha256: sha256(bytes), bytes: bytes.length });
      continue;
    }
    const had = fields[k];
    fields[k] = had === undefined ? v : Array.isArray(had) ? [...(had as string[]), v] : [had, v];
  }
  return { fields, files };
}

export async function startFakeAudio(speechBytes = 64 * 1024): Promise<FakeAudio> {
  const requests: AudioRequest[] = [];
  // Not silence: bytes that would show if an answer were stored or re-encoded.
  const speech = Buffer.from(Array.from({ length: speechBytes }, (_x, i) => (i * 131 + 7) % 256));
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(parts);
        const path = req.url ?? '';
        const ct = req.headers['content-type'] ?? '';
        const json = (status: number, v: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_audio_${requests.length}` });
          res.end(JSON.stringify(v));
        };
        const r: AudioRequest = { method: req.method ?? '', path, headers: req.headers, body, fields: {}, file: null };
        requests.push(r);
        const route = path.split('?')[0]!.replace(/^\/openai\/deployments\/[^/]+/, '/v1');
        if (route === '/v1/audio/speech') {
          r.fields = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
          res.writeHead(200, { 'content-type': 'audio/mpeg', 'x-request-id': `req_audio_${requests.length}` });
          res.end(speech);
          return;
        }
        if (route !== '/v1/audio/transcriptions' && route !== '/v1/audio/translations') return json(404, { error: { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
        try {
          const { fields, files } = await readUpload(body, ct);
          const f = files.find((x) => x.field === 'file');
          Object.assign(r, { fields, file: f ? { name: f.name, type: f.type, sha256: f.sha256, bytes: f.bytes } : null });
        } catch {
          return json(400, { error: { message: 'Could not parse multipart form', type: 'invalid_request_error', param: null, code: null } });
        }
        if (!r.file) return json(400, { error: { message: "you must provide a 'file'", type: 'invalid_request_error', param: 'file', code: null } });
        const model = typeof r.fields['model'] === 'string' ? r.fields['model'] : '';
        const text = `file sha256 ${r.file.sha256} model ${model}`;
        if (route === '/v1/audio/translations') return json(200, { text });
        if (r.fields['response_format'] === 'text') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`${text}\n`);
          return;
        }
        json(200, { text, usage: model.startsWith('gpt-4o') ? TRANSCRIBE_USAGE : { type: 'duration', seconds: 3 } });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    speech,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

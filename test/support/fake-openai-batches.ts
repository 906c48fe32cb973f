// A fake OpenAI Files and Batches API for tests: node:http on 127.0.0.1, port 0, speaking the
// wire format of https://platform.openai.com/docs/api-reference/files and /batch — file objects
// (`object: 'file'`), multipart uploads, `GET /files/{id}/content`, deletion objects, batch
// objects with their timestamps and `request_counts`, cursor lists, and OpenAI's 404 error body.
// A batch moves one status on each retrieve: validating → in_progress → completed (cancelling →
// cancelled, with its first line answered); on completion
// each input line is answered in the output file (a chat.completion with USAGE), except lines
// whose body mentions FAIL_MARKER, answered in the error file with a 400 (as OpenAI writes
// failed requests). Azure OpenAI's layout (`/openai/files?api-version=…`) is served alike. Every
// request is logged (uploads with their parsed form) for assertions; uploads can be held
// (`holdUploads`) to keep a request in flight. File deletions are listed apart (`deletes`, in the
// order asked, answered or not), and a file's deletion can be made to fail on demand
// (`failDelete`: OpenAI's 5xx error body, N times).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAIL_MARKER = 'PLEASE-FAIL';
export const BATCH_USAGE = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 };

export interface BatchRequest {
  method: string;
  path: string;
  /** The query string (Azure's `api-version`). */
  query: string;
  headers: IncomingHttpHeaders;
  /** JSON bodies parsed; an upload as its form. */
  body: unknown;
  upload?: { purpose: string; filename: string; content: string };
}

interface StoredFile {
  object: Record<string, unknown>;
  content: string;
}

export interface FakeBatches {
  url: string;
  /** base_url for a provider config: `${url}/v1`. */
  baseUrl: string;
  requests: BatchRequest[];
  files: Map<string, StoredFile>;
  batches: Map<string, Record<string, unknown>>;
  /** Uploads received from now on wait (logged) until the returned function is called. */
  holdUploads(): () => void;
  /** The file ids of every `DELETE /files/{id}` asked, in order (whatever the answer). */
  deletes: string[];
  /** The next `times` deletions of file `fileId` answer `status` (OpenAI's server_error body). */
  failDelete(fileId: string, status: number, times?: number): void;
  close(): Promise<void>;
}

const id = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;
const now = (): number => Math.floor(Date.now() / 1000);

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'x-request-id': id('req_') });
  res.end(text);
}

const noSuch = (res: ServerResponse, what: string, objectId: string): void =>
  send(res, 404, { error: { message: `No such ${what} object: ${objectId}`, type: 'invalid_request_error', param: 'id', code: null } });

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** OpenAI's answer to one input line: [output line, failed?]. */
function answer(line: string): { text: string; failed: boolean } {
  const l = JSON.parse(line) as { custom_id: string; body: { model: string } };
  const failed = line.includes(FAIL_MARKER);
  const body = failed
    ? { error: { message: 'This request was refused by the fake.', type: 'invalid_request_error', param: 'messages', code: 'fake_refusal' } }
    : {
      id: id('chatcmpl-'), object: 'chat.completion', created: now(), model: `${l.body.model}-2024-07-18`,
      choices: [{ index: 0, message: { role: 'assistant', content: `Batch answer to ${l.custom_id}`, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
      usage: { ...BATCH_USAGE, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 } },
      service_tier: 'default', system_fingerprint: 'fp_fake',
    };
  const response = { status_code: failed ? 400 : 200, request_id: id('req_'), body };
  return { text: JSON.stringify({ id: id('batch_req_'), custom_id: l.custom_id, response, error: null }), failed };
}

export async function startFakeBatches(): Promise<FakeBatches> {
  const requests: BatchRequest[] = [];
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, Record<string, unknown>>();
  let uploadsHeld: Promise<void> | null = null;
  const deletes: string[] = [];
  const failing = new Map<string, { status: number; times: number }>();

  const addFile = (filename: string, purpose: string, content: string): Record<string, unknown> => {
    const object = { object: 'file', id: id('file-'), purpose, filename, bytes: Buffer.byteLength(content), created_at: now(), expires_at: null, status: 'processed', status_details: null };
    files.set(object.id, { object, content });
    return object;
  };

  const advance = (b: Record<string, unknown>): void => {
    // A cancelled batch keeps what it finished: here its first line, answered in its output file.
    if (b['status'] === 'cancelling') {
      const first = files.get(b['input_file_id'] as string)!.content.split('\n').find((l) => l.trim() !== '')!;
      const out = addFile(`${b['id'] as string}_output.jsonl`, 'batch_output', `${answer(first).text}\n`);
      Object.assign(b, { status: 'cancelled', cancelled_at: now(), output_file_id: out['id'], request_counts: { total: 0, completed: 1, failed: 0 } });
      return;
    }
    if (b['status'] === 'validating') {
      Object.assign(b, { status: 'in_progress', in_progress_at: now() });
      return;
    }
    if (b['status'] !== 'in_progress') return;
    const input = files.get(b['input_file_id'] as string)!;
    const lines = input.content.split('\n').filter((l) => l.trim() !== '').map(answer);
    const ok = lines.filter((l) => !l.failed).map((l) => l.text);
    const failed = lines.filter((l) => l.failed).map((l) => l.text);
    const out = ok.length ? addFile(`${b['id'] as string}_output.jsonl`, 'batch_output', `${ok.join('\n')}\n`) : null;
    const err = failed.length ? addFile(`${b['id'] as string}_error.jsonl`, 'batch_output', `${failed.join('\n')}\n`) : null;
    Object.assign(b, {
      status: 'completed', finalizing_at: now(), completed_at: now(), output_file_id: out?.['id'] ?? null, error_file_id: err?.['id'] ?? null,
      request_counts: { total: lines.length, completed: ok.length, failed: failed.length },
    });
  };

  const list = (res: ServerResponse, data: Record<string, unknown>[]): void =>
    send(res, 200, { object: 'list', data, first_id: data[0]?.['id'] ?? null, last_id: data.at(-1)?.['id'] ?? null, has_more: false });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    const logged: BatchRequest = { method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers, body: null };
    requests.push(logged);
    // OpenAI's layout (`/v1/files`), or Azure OpenAI's (`/openai/files?api-version=…`).
    const [, root, what, objectId, action] = url.pathname.split('/');
    if (root !== 'v1' && root !== 'openai') return noSuch(res, 'route', url.pathname);
    if (what === 'files' && objectId === undefined && req.method === 'POST') {
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: new Uint8Array(raw) }).formData();
      const file = form.get('file');
      if (!(file instanceof File)) return send(res, 400, { error: { message: "Missing required parameter: 'file'.", type: 'invalid_request_error', param: 'file', code: null } });
      const upload = { purpose: String(form.get('purpose')), filename: file.name, content: await file.text() };
      logged.upload = upload;
      logged.body = upload;
      if (uploadsHeld) await uploadsHeld;
      return send(res, 200, addFile(upload.filename, upload.purpose, upload.content));
    }
    if (what === 'files' && objectId === undefined) return list(res, [...files.values()].map((f) => f.object).reverse());
    if (what === 'files' && req.method === 'DELETE' && action === undefined) {
      deletes.push(objectId!);
      const fail = failing.get(objectId!);
      if (fail && fail.times > 0) {
        fail.times--;
        return send(res, fail.status, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
      }
    }
    if (what === 'files') {
      const f = files.get(objectId!);
      if (!f) return noSuch(res, 'File', objectId!);
      if (action === 'content') return send(res, 200, f.content, 'application/octet-stream');
      if (req.method === 'DELETE') {
        files.delete(objectId!);
        return send(res, 200, { id: objectId, object: 'file', deleted: true });
      }
      return send(res, 200, f.object);
    }
    if (what === 'batches' && objectId === undefined && req.method === 'POST') {
      const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      logged.body = body;
      if (!files.has(String(body['input_file_id']))) return noSuch(res, 'File', String(body['input_file_id']));
      const t = now();
      const b: Record<string, unknown> = {
        id: id('batch_'), object: 'batch', endpoint: body['endpoint'], errors: null, input_file_id: body['input_file_id'], completion_window: body['completion_window'],
        status: 'validating', output_file_id: null, error_file_id: null, created_at: t, in_progress_at: null, expires_at: t + 86_400, finalizing_at: null, completed_at: null,
        failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null, request_counts: { total: 0, completed: 0, failed: 0 }, metadata: body['metadata'] ?? null,
      };
      batches.set(b['id'] as string, b);
      return send(res, 200, b);
    }
    if (what === 'batches' && objectId === undefined) return list(res, [...batches.values()].reverse());
    if (what === 'batches') {
      const b = batches.get(objectId!);
      if (!b) return noSuch(res, 'Batch', objectId!);
      if (action === 'cancel' && req.method === 'POST') {
        if (b['status'] === 'validating' || b['status'] === 'in_progress') Object.assign(b, { status: 'cancelling', cancelling_at: now() });
        return send(res, 200, b);
      }
      advance(b);
      return send(res, 200, b);
    }
    return noSuch(res, 'route', url.pathname);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    files,
    batches,
    holdUploads: () => {
      let resume = (): void => undefined;
      uploadsHeld = new Promise<void>((r) => (resume = r));
      return () => {
        uploadsHeld = null;
        resume();
      };
    },
    deletes,
    failDelete(fileId, status, times = 1) {
      failing.set(fileId, { status, times });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

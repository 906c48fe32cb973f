// The mock provider's Files and Batches APIs, in OpenAI's wire format and in memory, so that
// `npm start` users can try batch jobs with no key: a batch is `validating` for its first
// 300 ms, `in_progress` until MOCK_BATCH_MS after its creation, then `completed` with one mock
// answer per line (`answer`: mock.ts nonStreamBody). Held per process, at most MAX_FILES files.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FilesApi, FilesRequest, FilesResponse, FilesStream, UpstreamApi, UpstreamCall } from './types.ts';

/** The mock's non-stream answer to one request (mock.ts nonStreamBody). */
export type MockAnswer = (c: Pick<UpstreamCall, 'api' | 'model' | 'json'>) => string;

/** How long a mock batch takes from creation to `completed`. */
export const MOCK_BATCH_MS = 2000;
const VALIDATING_MS = 300;
/** Files kept; the oldest goes first (a mock, not a store). */
const MAX_FILES = 200;

/** The line URLs a mock batch answers, by the API they speak. */
const APIS: Readonly<Record<string, UpstreamApi>> = {
  '/v1/chat/completions': 'openai.chat',
  '/v1/completions': 'openai.completions',
  '/v1/embeddings': 'openai.embeddings',
};

interface MockFile {
  object: Record<string, unknown>;
  content: Buffer;
}

interface MockBatch {
  object: Record<string, unknown>;
  createdMs: number;
  cancelled: boolean;
}

const id = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;
const secs = (ms: number): number => Math.floor(ms / 1000);
const json = (status: number, body: unknown): FilesResponse => ({ status, contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) });
const notFound = (what: string): FilesResponse => json(404, { error: { message: `No such ${what}`, type: 'invalid_request_error', param: 'id', code: null } });

/** One input line's mock answer, as OpenAI writes it in an output file. */
function answerLine(answer: MockAnswer, line: string): string {
  const l = JSON.parse(line) as { custom_id?: unknown; url?: unknown; body?: Record<string, unknown> };
  const api = typeof l.url === 'string' ? APIS[l.url] : undefined;
  const body = l.body ?? {};
  const model = typeof body['model'] === 'string' ? body['model'] : '';
  const response = api
    ? { status_code: 200, request_id: id('req_'), body: JSON.parse(answer({ api, model, json: body })) as unknown }
    : { status_code: 400, request_id: id('req_'), body: { error: { message: `The mock does not serve ${String(l.url)} in a batch.`, type: 'invalid_request_error', param: null, code: null } } };
  return JSON.stringify({ id: id('batch_req_'), custom_id: l.custom_id, response, error: null });
}

export function mockFiles(answer: MockAnswer, now: () => number = Date.now): FilesApi {
  const files = new Map<string, MockFile>();
  const batches = new Map<string, MockBatch>();

  const addFile = (filename: string, purpose: string, content: Buffer): Record<string, unknown> => {
    const object = { id: id('file-'), object: 'file', bytes: content.length, created_at: secs(now()), filename, purpose, status: 'processed', expires_at: null, status_details: null };
    files.set(object.id, { object, content });
    if (files.size > MAX_FILES) files.delete(files.keys().next().value!);
    return object;
  };

  /** The batch as it stands now: it moves on with time, and completes once, writing its output. */
  const current = (b: MockBatch): Record<string, unknown> => {
    const o = b.object;
    const age = now() - b.createdMs;
    if (b.cancelled || o['status'] === 'completed' || o['status'] === 'failed') return o;
    if (age >= VALIDATING_MS && o['status'] === 'validating') Object.assign(o, { status: 'in_progress', in_progress_at: secs(now()) });
    if (age < MOCK_BATCH_MS) return o;
    const input = files.get(o['input_file_id'] as string);
    if (!input) return Object.assign(o, { status: 'failed', failed_at: secs(now()), errors: { object: 'list', data: [{ code: 'file_not_found', message: 'The input file is gone.', param: 'input_file_id', line: null }] } });
    const lines = input.content.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    const out = lines.map((l) => answerLine(answer, l));
    const output = addFile(`${o['id'] as string}_output.jsonl`, 'batch_output', Buffer.from(`${out.join('\n')}\n`));
    return Object.assign(o, {
      status: 'completed', output_file_id: output['id'], finalizing_at: secs(now()), completed_at: secs(now()),
      request_counts: { total: lines.length, completed: lines.length, failed: 0 },
    });
  };

  const upload = async (r: FilesRequest): Promise<FilesResponse> => {
    const form = await new Response(r.body ? new Uint8Array(r.body) : null, { headers: { 'content-type': r.contentType ?? '' } }).formData();
    const file = form.get('file');
    if (!(file instanceof Blob)) return json(400, { error: { message: 'Missing file.', type: 'invalid_request_error', param: 'file', code: null } });
    const name = file instanceof File ? file.name : 'upload.jsonl';
    return json(200, addFile(name, String(form.get('purpose') ?? ''), Buffer.from(await file.arrayBuffer())));
  };

  const createBatch = (r: FilesRequest): FilesResponse => {
    const body = JSON.parse(r.body?.toString('utf8') ?? '{}') as Record<string, unknown>;
    if (!files.has(String(body['input_file_id']))) return notFound('file');
    const t = now();
    const object: Record<string, unknown> = {
      id: id('batch_'), object: 'batch', endpoint: body['endpoint'], errors: null, input_file_id: body['input_file_id'], completion_window: body['completion_window'] ?? '24h',
      status: 'validating', output_file_id: null, error_file_id: null, created_at: secs(t), in_progress_at: null, expires_at: secs(t) + 86_400, finalizing_at: null,
      completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null, request_counts: { total: 0, completed: 0, failed: 0 }, metadata: body['metadata'] ?? null,
    };
    batches.set(object['id'] as string, { object, createdMs: t, cancelled: false });
    return json(200, object);
  };

  const onBatch = (r: FilesRequest, batchId: string, action: string | undefined): FilesResponse => {
    const b = batches.get(batchId);
    if (!b) return notFound('batch');
    if (action === 'cancel' && r.method === 'POST') {
      const o = current(b);
      if (o['status'] === 'validating' || o['status'] === 'in_progress') {
        b.cancelled = true;
        Object.assign(o, { status: 'cancelled', cancelling_at: secs(now()), cancelled_at: secs(now()) });
      }
      return json(200, o);
    }
    return action === undefined && r.method === 'GET' ? json(200, current(b)) : notFound('route');
  };

  const onFile = (r: FilesRequest, fileId: string, action: string | undefined): FilesResponse => {
    const f = files.get(fileId);
    if (!f) return notFound('file');
    if (action === 'content' && r.method === 'GET') return { status: 200, contentType: 'application/octet-stream', body: f.content };
    if (action !== undefined) return notFound('route');
    if (r.method === 'DELETE') {
      files.delete(fileId);
      return json(200, { id: fileId, object: 'file', deleted: true });
    }
    return json(200, f.object);
  };

  const list = (all: Iterable<Record<string, unknown>>): FilesResponse => {
    const data = [...all].reverse();
    return json(200, { object: 'list', data, first_id: data[0]?.['id'] ?? null, last_id: data.at(-1)?.['id'] ?? null, has_more: false });
  };

  const send = async (r: FilesRequest): Promise<FilesResponse> => {
    const [, what, objectId, action] = r.path.split('/').map(decodeURIComponent);
    if (what === 'files' && objectId === undefined) return r.method === 'POST' ? upload(r) : list([...files.values()].map((f) => f.object));
    if (what === 'files' && objectId !== undefined) return onFile(r, objectId, action);
    if (what === 'batches' && objectId === undefined) return r.method === 'POST' ? createBatch(r) : list([...batches.values()].map(current));
    if (what === 'batches' && objectId !== undefined) return onBatch(r, objectId, action);
    return notFound('route');
  };
  const stream = async (r: FilesRequest): Promise<FilesStream> => {
    const res = await send(r);
    return { ...res, body: Readable.from([res.body]) };
  };
  return { send, stream };
}

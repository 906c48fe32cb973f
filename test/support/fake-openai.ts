// A fake OpenAI upstream for tests: node:http on 127.0.0.1, port 0, speaking the exact wire
// format (chat.completion JSON; SSE `data: {...}\n\n` chunks ending in `data: [DONE]\n\n`, with
// a usage-only chunk (`choices: []`) only when stream_options.include_usage is true;
// completions; embeddings (float or base64); image generations (gpt-image-1's shape, or DALL·E's:
// `n` images as `url` or `b64_json`, no usage); models).
// Behaviour is set per test, and every received request is logged for assertions.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
}

export interface FakeBehaviour {
  /** Answer with this status and OpenAI error body (and extra headers, e.g. retry-after) instead of a completion. */
  error?: { status: number; body?: unknown; headers?: Record<string, string> };
  /** Routing tests: never answer ('headers'), or send 200 headers and then nothing ('body'), until the caller hangs up. */
  hang?: 'headers' | 'body';
  /** Routing tests: write the stream one byte at a time, this many ms apart. */
  trickleMs?: number;
  /** Routing tests: destroy the socket after writing this many SSE events. */
  resetAfterEvents?: number;
  /** Routing tests: a 200 whose JSON body (or one SSE event) is cut and invalid. */
  malformed?: boolean;
  /** Omit usage everywhere (non-stream body and the usage chunk). */
  noUsage?: boolean;
  usage?: FakeUsage;
  /** Wait this long before sending response headers. */
  delayHeadersMs?: number;
  /** Write every SSE event in pieces of this many bytes (cutting lines and UTF-8 sequences). */
  splitBytes?: number;
  /** Pause between stream writes, ms. */
  chunkDelayMs?: number;
  /** Completion text; default `Fake reply to: <last user text>`. */
  reply?: string;
  /** Stream tool_call deltas (and answer non-stream with tool_calls). */
  toolCall?: { name: string; arguments: string };
  /** Leave out `data: [DONE]`. */
  noDone?: boolean;
  /** `POST /v1/images/generations`: bytes of the (fake) image sent as `b64_json`; default 64. */
  imageBytes?: number;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: unknown;
  /** True once the connection closed before the response was complete (the caller aborted). */
  aborted: boolean;
  /** The usage object this fake reported to the caller (absent: it reported none, e.g. the caller left first). */
  reported?: Record<string, unknown>;
}

export interface FakeOpenAi {
  url: string;
  /** base_url for a provider config: `${url}/v1`. */
  baseUrl: string;
  requests: ReceivedRequest[];
  behave(b: FakeBehaviour): void;
  /** The next requests get these behaviours, one each, in order; then `behave`'s. */
  queue(...bs: FakeBehaviour[]): void;
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_USAGE: FakeUsage = { prompt_tokens: 21, completion_tokens: 9, cached_tokens: 4, reasoning_tokens: 2 };
export const FAKE_CREATED = 1_700_000_000;
export const FAKE_EMBED_DIMS = 4;

/** The model an upstream reports: a dated snapshot of the requested one, like OpenAI does. */
export const reportedModel = (requested: string): string => `${requested}-2024-07-18`;

function usageJson(u: FakeUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function lastUserText(body: Record<string, unknown>): string {
  const msgs = Array.isArray(body['messages']) ? (body['messages'] as { role?: string; content?: unknown }[]) : [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]?.role === 'user' && typeof msgs[i]?.content === 'string') return msgs[i]!.content as string;
  return typeof body['prompt'] === 'string' ? body['prompt'] : '';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pieces(text: string, n: number): string[] {
  const out: string[] = [];
  const chars = [...text];
  const per = Math.max(1, Math.ceil(chars.length / n));
  for (let i = 0; i < chars.length; i += per) out.push(chars.slice(i, i + per).join(''));
  return out;
}

async function writeStream(res: ServerResponse, events: string[], b: FakeBehaviour): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': 'req_fake' });
  res.flushHeaders();
  let n = 0;
  for (const ev of events) {
    const buf = Buffer.from(ev);
    if (b.resetAfterEvents !== undefined && n++ >= b.resetAfterEvents) {
      // Let what was written reach the peer first: a reset discards data still in flight.
      if (n > 1) await sleep(50);
      res.socket?.destroy();
      return;
    }
    if (b.trickleMs) {
      for (let i = 0; i < buf.length && !res.destroyed; i++) {
        res.write(buf.subarray(i, i + 1));
        await sleep(b.trickleMs);
      }
    } else if (b.splitBytes) {
      for (let i = 0; i < buf.length; i += b.splitBytes) {
        res.write(buf.subarray(i, i + b.splitBytes));
        await sleep(1);
      }
    } else {
      res.write(buf);
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
    if (res.destroyed) return;
  }
  res.end();
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  let behaviour: FakeBehaviour = {};
  const queued: FakeBehaviour[] = [];
  const requests: ReceivedRequest[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req.method ?? '', (req.url ?? '').split('?')[0] ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res);
    });
  });

  async function handle(method: string, path: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): Promise<void> {
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const entry: ReceivedRequest = { method, path, headers, raw, body, aborted: false };
    requests.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.aborted = true;
    });
    const b = queued.shift() ?? behaviour;
    if (b.delayHeadersMs) await sleep(b.delayHeadersMs);
    if (b.hang) {
      if (b.hang === 'body') {
        res.writeHead(200, { 'content-type': body['stream'] === true ? 'text/event-stream' : 'application/json' });
        res.flushHeaders();
      }
      await new Promise<void>((resolve) => res.once('close', resolve));
      return;
    }
    res.socket?.setNoDelay(true);
    const json = (status: number, v: unknown): void => {
      const text = JSON.stringify(v);
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (b.error) {
      for (const [k, v] of Object.entries(b.error.headers ?? {})) res.setHeader(k, v);
      json(b.error.status, b.error.body ?? { error: { message: 'fake upstream error', type: 'server_error', param: null, code: null } });
      return;
    }
    if (b.malformed && body['stream'] !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake' });
      res.end('{"id":"chatcmpl-broken","object":"chat.completion","choices":[{');
      return;
    }
    const model = typeof body['model'] === 'string' ? body['model'] : 'unknown';
    const usage = b.noUsage ? null : usageJson(b.usage ?? DEFAULT_USAGE);
    if (method === 'GET' && path === '/v1/models') {
      json(200, { object: 'list', data: [{ id: 'gpt-fake', object: 'model', created: FAKE_CREATED, owned_by: 'fake' }] });
      return;
    }
    if (method === 'POST' && path === '/v1/embeddings') {
      const input = body['input'];
      const items = Array.isArray(input) ? input : [input];
      const data = items.map((_x, index) => {
        const v = Array.from({ length: FAKE_EMBED_DIMS }, (_y, j) => Math.fround((index + 1) / (j + 2)));
        const embedding = body['encoding_format'] === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
        return { object: 'embedding', index, embedding };
      });
      json(200, { object: 'list', data, model: reportedModel(model), ...(usage ? { usage: { prompt_tokens: usage['prompt_tokens'], total_tokens: usage['prompt_tokens'] } } : {}) });
      return;
    }
    if (method === 'POST' && path === '/v1/images/generations') {
      const image = Buffer.alloc(b.imageBytes ?? 64, 'fake-png-');
      if (model.startsWith('dall-e')) {
        // DALL·E's shape: `n` images (default 1) as asked, a revised prompt from DALL·E 3, no usage.
        const n = typeof body['n'] === 'number' ? body['n'] : 1;
        const url = body['response_format'] === 'url';
        const data = Array.from({ length: n }, (_x, i) => ({
          ...(url ? { url: `https://images.invalid/${i}.png` } : { b64_json: image.toString('base64') }),
          ...(model === 'dall-e-3' ? { revised_prompt: `revised: ${String(body['prompt'])}` } : {}),
        }));
        json(200, { created: FAKE_CREATED, data });
        return;
      }
      // gpt-image-1's shape: base64 only, with usage in input/output tokens.
      const u = usage ? { input_tokens: usage['prompt_tokens'], input_tokens_details: { text_tokens: usage['prompt_tokens'], image_tokens: 0 }, output_tokens: usage['completion_tokens'], total_tokens: usage['total_tokens'] } : undefined;
      json(200, { created: FAKE_CREATED, data: [{ b64_json: image.toString('base64') }], ...(u ? { usage: u } : {}) });
      return;
    }
    const chat = path === '/v1/chat/completions';
    if (method !== 'POST' || (!chat && path !== '/v1/completions')) {
      json(404, { error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    const reply = b.reply ?? `Fake reply to: ${lastUserText(body)}`;
    const id = chat ? 'chatcmpl-fake123' : 'cmpl-fake123';
    const upModel = reportedModel(model);
    if (body['stream'] !== true) {
      if (chat) {
        const message: Record<string, unknown> = { role: 'assistant', content: b.toolCall ? null : reply, refusal: null, annotations: [] };
        if (b.toolCall) message['tool_calls'] = [{ id: 'call_fake1', type: 'function', function: b.toolCall }];
        json(200, {
          id,
          object: 'chat.completion',
          created: FAKE_CREATED,
          model: upModel,
          choices: [{ index: 0, message, logprobs: null, finish_reason: b.toolCall ? 'tool_calls' : 'stop' }],
          ...(usage ? { usage } : {}),
          service_tier: 'default',
          system_fingerprint: 'fp_fake',
        });
        if (usage) entry.reported = usage;
      } else {
        json(200, {
          id,
          object: 'text_completion',
          created: FAKE_CREATED,
          model: upModel,
          choices: [{ text: reply, index: 0, logprobs: null, finish_reason: 'stop' }],
          ...(usage ? { usage } : {}),
        });
      }
      return;
    }
    const so = body['stream_options'] as { include_usage?: unknown } | undefined;
    const includeUsage = so?.include_usage === true;
    const base = chat
      ? { id, object: 'chat.completion.chunk', created: FAKE_CREATED, model: upModel, service_tier: 'default', system_fingerprint: 'fp_fake' }
      : { id, object: 'text_completion', created: FAKE_CREATED, model: upModel, system_fingerprint: 'fp_fake' };
    const extra = includeUsage ? { usage: null } : {};
    const frames: unknown[] = [];
    const choice = (delta: Record<string, unknown>, text: string, finish: string | null): unknown =>
      chat ? { index: 0, delta, logprobs: null, finish_reason: finish } : { text, index: 0, logprobs: null, finish_reason: finish };
    if (chat) frames.push({ ...base, choices: [choice({ role: 'assistant', content: '', refusal: null }, '', null)], ...extra });
    if (chat && b.toolCall) {
      frames.push({ ...base, choices: [choice({ tool_calls: [{ index: 0, id: 'call_fake1', type: 'function', function: { name: b.toolCall.name, arguments: '' } }] }, '', null)], ...extra });
      for (const p of pieces(b.toolCall.arguments, 3)) frames.push({ ...base, choices: [choice({ tool_calls: [{ index: 0, function: { arguments: p } }] }, '', null)], ...extra });
    } else {
      for (const p of pieces(reply, 4)) frames.push({ ...base, choices: [choice({ content: p }, p, null)], ...extra });
    }
    frames.push({ ...base, choices: [choice({}, '', b.toolCall ? 'tool_calls' : 'stop')], ...extra });
    if (includeUsage && usage) frames.push({ ...base, choices: [], usage });
    const events = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`);
    if (b.malformed) events.splice(1, 0, 'data: {"id":"chatcmpl-fake123","choices":[{\n\n');
    if (!b.noDone) events.push('data: [DONE]\n\n');
    await writeStream(res, events, b);
    if (includeUsage && usage && !entry.aborted && res.writableEnded) entry.reported = usage;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    behave(b) {
      behaviour = b;
    },
    queue(...bs) {
      queued.push(...bs);
    },
    reset() {
      behaviour = {};
      queued.length = 0;
      requests.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

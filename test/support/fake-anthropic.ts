// A fake Anthropic upstream for tests: node:http on 127.0.0.1, port 0, speaking the Messages
// wire format exactly — message JSON; SSE `event: <type>\ndata: {...}\n\n` frames in the
// documented order (message_start, ping, content_block_start/delta/stop for thinking, text and
// tool_use, message_delta with usage, message_stop), errors as `{"type":"error","error":{...}}`
// (with the status Anthropic uses, 529 for overloaded), mid-stream `event: error`, and
// /v1/messages/count_tokens. Every received request is logged for assertions.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { fakeControls, listenOnLoopback } from './loopback.ts';

export interface FakeAnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  /** Cache writes by TTL, as Anthropic reports them beside cache_creation_input_tokens. */
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

export interface FakeAnthropicBehaviour {
  /** Answer with this status and Anthropic error type instead of a message. */
  error?: { status: number; type: string; message?: string };
  usage?: FakeAnthropicUsage;
  /** Begin the answer with a thinking block (with signature). */
  thinking?: string;
  /** Answer with a tool_use block (after any text), unless the last user turn is a tool_result. */
  toolUse?: { id?: string; name: string; input: Record<string, unknown> };
  /** Text; default `Fake reply to: <last user text>`. */
  reply?: string;
  /** Stream: send an `event: error` (overloaded) after the first text delta, then close. */
  midStreamError?: boolean;
  /** Stream: report no usage at all (neither in message_start nor in message_delta). */
  noUsage?: boolean;
  /** Stream: pause this long between frames (and stop writing once the caller has gone). */
  frameDelayMs?: number;
}

export interface AnthropicRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  /** Exact bytes of the response body sent (a stream: the frames written before the caller left). */
  response: string;
}

export interface FakeAnthropic {
  /** base_url for an `anthropic` provider (no /v1). */
  url: string;
  requests: AnthropicRequest[];
  behave(b: FakeAnthropicBehaviour): void;
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_ANTHROPIC_USAGE: FakeAnthropicUsage = { input_tokens: 30, output_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 };
/** The model the fake reports: a dated snapshot of the requested one, like Anthropic does. */
export const anthropicReportedModel = (requested: string): string => (requested.match(/-\d{8}$/) ? requested : `${requested}-20250101`);

export function lastUserText(body: Record<string, unknown>): string {
  const msgs = Array.isArray(body['messages']) ? (body['messages'] as { role?: string; content?: unknown }[]) : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const t = (m.content as { type?: string; text?: string }[]).find((b) => b.type === 'text');
      if (t?.text) return t.text;
      const r = (m.content as { type?: string; content?: unknown }[]).find((b) => b.type === 'tool_result');
      if (r) return `tool result ${JSON.stringify(r.content)}`;
    }
  }
  return '';
}

export type Block = Record<string, unknown>;

export function contentBlocks(b: FakeAnthropicBehaviour, text: string): Block[] {
  const out: Block[] = [];
  if (b.thinking) out.push({ type: 'thinking', thinking: b.thinking, signature: 'sig_fake_123' });
  if (text) out.push({ type: 'text', text });
  if (b.toolUse) out.push({ type: 'tool_use', id: b.toolUse.id ?? 'toolu_fake_1', name: b.toolUse.name, input: b.toolUse.input });
  return out;
}

/** One stream event of the Messages API, `type` first. */
export type StreamEvent = { type: string } & Record<string, unknown>;
const frame = (type: string, data: Record<string, unknown>): StreamEvent => ({ type, ...data });

/** The Messages stream's events in the documented order (cut after an `error` event when `midError`). */
export function streamEvents(model: string, blocks: Block[], u: FakeAnthropicUsage, stop: string, midError: boolean, noUsage: boolean): StreamEvent[] {
  const f: StreamEvent[] = [];
  f.push(frame('message_start', {
    message: {
      id: 'msg_fake_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
      ...(noUsage ? {} : { usage: { input_tokens: u.input_tokens, cache_creation_input_tokens: u.cache_creation_input_tokens, cache_read_input_tokens: u.cache_read_input_tokens, ...(u.cache_creation ? { cache_creation: u.cache_creation } : {}), output_tokens: 1 } }),
    },
  }));
  f.push(frame('ping', {}));
  blocks.forEach((b, index) => {
    if (b['type'] === 'thinking') {
      f.push(frame('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      f.push(frame('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: b['thinking'] } }));
      f.push(frame('content_block_delta', { index, delta: { type: 'signature_delta', signature: b['signature'] } }));
    } else if (b['type'] === 'text') {
      f.push(frame('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      const text = String(b['text']);
      const half = Math.ceil(text.length / 2);
      f.push(frame('content_block_delta', { index, delta: { type: 'text_delta', text: text.slice(0, half) } }));
      if (midError) {
        f.push(frame('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
        return;
      }
      f.push(frame('content_block_delta', { index, delta: { type: 'text_delta', text: text.slice(half) } }));
    } else {
      f.push(frame('content_block_start', { index, content_block: { type: 'tool_use', id: b['id'], name: b['name'], input: {} } }));
      const json = JSON.stringify(b['input']);
      f.push(frame('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
      f.push(frame('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, 5) } }));
      f.push(frame('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(5) } }));
    }
    f.push(frame('content_block_stop', { index }));
  });
  if (midError) return f.slice(0, f.findIndex((x) => x.type === 'error') + 1);
  f.push(frame('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, ...(noUsage ? {} : { usage: { output_tokens: u.output_tokens } }) }));
  f.push(frame('message_stop', {}));
  return f;
}

const streamFrames = (...args: Parameters<typeof streamEvents>): string[] =>
  streamEvents(...args).map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  let behaviour: FakeAnthropicBehaviour = {};
  const requests: AnthropicRequest[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res));
  });

  async function handle(method: string, path: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): Promise<void> {
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const entry: AnthropicRequest = { method, path, headers, raw, body, response: '' };
    requests.push(entry);
    let b = behaviour;
    const json = (status: number, v: unknown): void => {
      const text = JSON.stringify(v);
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fake_ant', 'anthropic-ratelimit-requests-remaining': '99', 'content-length': Buffer.byteLength(text) });
      entry.response = text;
      res.end(text);
    };
    if (headers['x-api-key'] === undefined) return json(401, { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    if (b.error) return json(b.error.status, { type: 'error', error: { type: b.error.type, message: b.error.message ?? `fake ${b.error.type}` } });
    if (method === 'POST' && path === '/v1/messages/count_tokens') return json(200, { input_tokens: 42 });
    if (method !== 'POST' || path !== '/v1/messages') return json(404, { type: 'error', error: { type: 'not_found_error', message: `no route ${method} ${path}` } });
    const model = anthropicReportedModel(String(body['model']));
    const u = b.usage ?? FAKE_ANTHROPIC_USAGE;
    // A turn that answers a tool call gets text back, so tool loops end like real ones do.
    if (lastUserText(body).startsWith('tool result ')) b = { ...b, toolUse: undefined };
    const text = b.reply ?? (b.toolUse ? '' : `Fake reply to: ${lastUserText(body)}`);
    const blocks = contentBlocks(b, text);
    const stop = b.toolUse ? 'tool_use' : 'end_turn';
    if (body['stream'] === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': 'req_fake_ant', 'cache-control': 'no-cache' });
      for (const fr of streamFrames(model, blocks, u, stop, b.midStreamError === true, b.noUsage === true)) {
        if (res.destroyed) return;
        entry.response += fr;
        res.write(fr);
        if (b.frameDelayMs) await new Promise((r) => setTimeout(r, b.frameDelayMs));
      }
      res.end();
      return;
    }
    json(200, { id: 'msg_fake_1', type: 'message', role: 'assistant', model, content: blocks, stop_reason: stop, stop_sequence: null, usage: { ...u } });
  }

  const listening = await listenOnLoopback(server);
  const keep = (b: typeof behaviour): void => {
    behaviour = b;
  };
  return fakeControls(listening, requests, keep, {});
}

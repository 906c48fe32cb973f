// A fast mock OpenAI upstream for the benchmark: speaks the exact chat.completion JSON and
// chat.completion.chunk SSE wire format, with every body serialized once at start so the
// upstream costs as little CPU as possible (it shares a core with the load generator). Like a
// real provider it reports different token counts from one call to the next (USAGE_VARIANTS
// answers in turn): a proxy that prices or counts calls must not be measured on one usage only.
// Run as a child: `node test/bench/mock-upstream.ts` prints {"msg":"mock listening","url":...}.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const MODEL = 'gpt-4o-mini-2024-07-18';
const CREATED = 1_700_000_000;
const ID = 'chatcmpl-bench0000000000000000000000';
/**
 * Distinct usages answered in turn: more than gatelog's cost memo holds (4,096), so prices are
 * computed as for real traffic, where token counts differ from call to call.
 */
const USAGE_VARIANTS = 8192;

function usage(i: number): object {
  const prompt = 12 + ((i * 7919) % 3000);
  const completion = 9 + ((i * 104_729) % 700);
  const cached = i % 4 === 0 ? Math.floor(prompt / 2) : 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
}

let turn = 0;
/** The next usage variant's index. */
function next(): number {
  turn = (turn + 1) % USAGE_VARIANTS;
  return turn;
}
/** Content pieces of one streamed answer: with the role and finish chunks, 10 chunks in all. */
const PIECES = ['Hello', '!', ' How', ' can', ' I', ' help', ' you', ' today?'];

const completions = Array.from({ length: USAGE_VARIANTS }, (_, i) => Buffer.from(JSON.stringify({
  id: ID,
  object: 'chat.completion',
  created: CREATED,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: PIECES.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: usage(i),
  service_tier: 'default',
  system_fingerprint: 'fp_bench',
})));

type UsageField = 'absent' | 'null' | object;

function chunk(delta: object | null, finish: string | null, usage: UsageField): Buffer {
  const body: Record<string, unknown> = { id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, service_tier: 'default', system_fingerprint: 'fp_bench' };
  body['choices'] = delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [];
  if (usage !== 'absent') body['usage'] = usage === 'null' ? null : usage;
  return Buffer.from(`data: ${JSON.stringify(body)}\n\n`);
}

function streamChunks(includeUsage: boolean): Buffer[] {
  // With include_usage, OpenAI adds `"usage": null` to every chunk and a last usage-only chunk
  // (sent from USAGE_CHUNKS, in turn, before [DONE]).
  const u: UsageField = includeUsage ? 'null' : 'absent';
  const out = [chunk({ role: 'assistant', content: '', refusal: null }, null, u)];
  for (const p of PIECES) out.push(chunk({ content: p }, null, u));
  out.push(chunk({}, 'stop', u));
  return out;
}

const STREAM = streamChunks(false);
const STREAM_USAGE = streamChunks(true);
const USAGE_CHUNKS = Array.from({ length: USAGE_VARIANTS }, (_, i) => chunk(null, null, usage(i)));
const DONE = Buffer.from('data: [DONE]\n\n');
const JSON_HEADERS = { 'content-type': 'application/json', 'openai-processing-ms': '1', 'x-request-id': 'req_bench' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'openai-processing-ms': '1', 'x-request-id': 'req_bench' };
const NOT_FOUND = Buffer.from('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}');

/** Cheap byte search instead of JSON.parse: the mock must not be the bottleneck. */
function has(body: Buffer, needle: string): boolean {
  return body.indexOf(needle) !== -1;
}

function reply(body: Buffer, res: ServerResponse): void {
  if (has(body, '"stream":true') || has(body, '"stream": true')) {
    res.writeHead(200, SSE_HEADERS);
    const withUsage = has(body, '"include_usage":true') || has(body, '"include_usage": true');
    // One write per event, as a real upstream flushes them; they may still coalesce in TCP.
    for (const c of withUsage ? STREAM_USAGE : STREAM) res.write(c);
    if (withUsage) res.write(USAGE_CHUNKS[next()]);
    res.end(DONE);
    return;
  }
  const completion = completions[next()]!;
  res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(completion.length) });
  res.end(completion);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    req.resume();
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(NOT_FOUND);
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => reply(parts.length === 1 ? parts[0]! : Buffer.concat(parts), res));
}

export function createMockUpstream(): Server {
  const server = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, handle);
  server.keepAliveTimeout = 60_000;
  return server;
}

export function listenMockUpstream(port = 0): Promise<{ server: Server; url: string }> {
  const server = createMockUpstream();
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${p}` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await listenMockUpstream();
  process.stdout.write(`${JSON.stringify({ msg: 'mock listening', url })}\n`);
}

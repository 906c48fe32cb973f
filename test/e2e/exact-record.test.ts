// "Trace a bad response back to its exact prompt": for every attempt of every call — plain,
// translated both ways, retried, fallen back, streamed or not — the stored attempt_io holds
// exactly the bytes the upstream received and exactly the bytes it sent back, with the
// upstream's request id. Real SDKs → a real `gatelog start` → recording hops → fake providers;
// read back through GET /admin/calls/:id from embedded ClickHouse. Checked per attempt.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUEST_SET_MIN_BYTES } from '@gatelog/core';
import { RECORD_HEADER_BYTES } from '@gatelog/core/bus/local-log';
import { PIECES_MIN_BYTES } from '@gatelog/core/json/pieces';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startRecordingUpstream, type Exchange, type RecordingUpstream } from '../support/recording-upstream.ts';

const MASTER = 'gl-master-e2e-exact-record-01';
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Io {
  provider_request_id: string;
  request_same: boolean;
  request_body: string;
  request_bytes: number;
  request_sha256: string;
  response_same: boolean;
  response_body: string;
  response_bytes: number;
  response_sha256: string;
  truncated: boolean;
}
interface Stored {
  request_body: string;
  response_body: string;
  attempts: { provider: string; status: number }[];
  attempt_io: Io[];
}

let oai: FakeOpenAi;
let oaiDown: FakeOpenAi;
let oaiFlaky: FakeOpenAi;
let ant: FakeAnthropic;
const hops: Record<string, RecordingUpstream> = {};
let gl: GatelogProcess;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  [oai, oaiDown, oaiFlaky, ant] = await Promise.all([startFakeOpenAi(), startFakeOpenAi(), startFakeOpenAi(), startFakeAnthropic()]);
  oaiDown.behave({ error: { status: 500 } });
  hops['oai'] = await startRecordingUpstream(oai.url, 'x-request-id', 'oai');
  hops['down'] = await startRecordingUpstream(oaiDown.url, 'x-request-id', 'down');
  hops['flaky'] = await startRecordingUpstream(oaiFlaky.url, 'x-request-id', 'flaky');
  hops['ant'] = await startRecordingUpstream(ant.url, 'request-id', 'ant');
  gl = await startGatelog({
    config: {
      providers: {
        oai: { kind: 'openai', base_url: `${hops['oai'].url}/v1`, api_key: 'sk-test-oai-0000000000000000' },
        down: { kind: 'openai', base_url: `${hops['down'].url}/v1`, api_key: 'sk-test-down-000000000000000' },
        flaky: { kind: 'openai', base_url: `${hops['flaky'].url}/v1`, api_key: 'sk-test-flaky-00000000000000' },
        ant: { kind: 'anthropic', base_url: hops['ant'].url, api_key: 'sk-ant-test-0000000000000000' },
      },
      models: [
        { name: 'gpt-4o-mini', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
        { name: 'gpt-alias', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
        { name: 'claude-3-5-sonnet-20241022', deployments: [{ provider: 'ant', model: 'claude-3-5-sonnet-20241022' }] },
        { name: 'claude-alias', deployments: [{ provider: 'ant', model: 'claude-3-5-sonnet-20241022' }] },
        { name: 'falls-back', deployments: [{ provider: 'down', model: 'gpt-down' }], fallbacks: ['gpt-alias'] },
        { name: 'retried', deployments: [{ provider: 'flaky', model: 'gpt-flaky' }] },
      ],
      router: { retries: 1, backoff: { base_ms: 1, max_ms: 5 }, cooldown: { failures: 0 } },
      // The default redaction (log) is on, as for a user who configured none: these calls hold
      // nothing to redact, so every raw copy, streams included, must be stored exactly
      // (privacy tests cover what happens when there is something to redact).
      ingest: { batch_rows: 1000, batch_ms: 100 },
    },
    env: { GATELOG_MASTER_KEY: MASTER },
    // Start-up takes long on a loaded machine.
    timeoutMs: 75_000,
  });
  openai = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([...Object.values(hops).map((h) => h.close()), oai?.close(), oaiDown?.close(), oaiFlaky?.close(), ant?.close()]);
});

async function stored(id: string, timeoutMs = 15_000): Promise<Stored> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${gl.url}/admin/calls/${id}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (res.status === 200) return (await res.json()) as Stored;
    expect(res.status).toBe(404);
    if (Date.now() - t0 > timeoutMs) throw new Error(`call ${id} not stored after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Exchanges every hop saw while `run` ran, in arrival order (calls run one at a time here). */
async function recording(run: () => Promise<string>): Promise<{ id: string; seen: Exchange[] }> {
  const before = new Map(Object.entries(hops).map(([k, h]) => [k, h.exchanges.length]));
  const t = Date.now();
  const id = await run();
  const seen = Object.entries(hops).flatMap(([k, h]) => h.exchanges.slice(before.get(k)));
  // A hop finishes recording its answer as it ends it; the client may have read the end first.
  while (seen.some((e) => e.status === 0 || (e.response.length === 0 && Date.now() - t < 5000))) await new Promise((r) => setTimeout(r, 20));
  return { id, seen: seen.sort((a, b) => a.at - b.at) };
}

/** Every attempt's stored record equals, byte for byte, what its upstream received and sent. */
function expectExact(call: Stored, seen: Exchange[]): void {
  expect(call.attempt_io).toHaveLength(call.attempts.length);
  expect(call.attempts).toHaveLength(seen.length);
  seen.forEach((ex, i) => {
    const io = call.attempt_io[i]!;
    const where = `attempt ${i} (${ex.requestId})`;
    expect(io.provider_request_id, where).toBe(ex.requestId);
    expect(call.attempts[i]!.status, where).toBe(ex.status);
    expect(io.request_sha256, where).toBe(sha(ex.request));
    expect(io.request_bytes, where).toBe(ex.request.length);
    expect(io.request_same ? call.request_body : io.request_body, where).toBe(ex.request.toString('utf8'));
    expect(io.response_sha256, where).toBe(sha(ex.response));
    expect(io.response_bytes, where).toBe(ex.response.length);
    expect(io.response_same ? call.response_body : io.response_body, where).toBe(ex.response.toString('utf8'));
    expect(io.truncated, where).toBe(false);
  });
}

const oaiId = (r: { headers: Headers }): string => r.headers.get('x-gatelog-request-id')!;

/** An Anthropic SDK call, streamed (read to its final message) or not; its gatelog request id. */
async function anthropicCall(params: Anthropic.MessageCreateParamsNonStreaming, stream: boolean): Promise<string> {
  if (!stream) return oaiId((await anthropic.messages.create(params).withResponse()).response);
  const s = anthropic.messages.stream(params);
  const { response } = await s.withResponse();
  await s.finalMessage();
  return oaiId(response);
}

/** A chat call of the client's exact text, stored exactly as every upstream saw it, with the client's text as its request. */
async function postedExactly(text: string): Promise<{ id: string; call: Stored; seen: Exchange[] }> {
  const { id, seen } = await recording(async () => {
    const res = await fetch(`${gl.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: text });
    expect(res.status).toBe(200);
    await res.text();
    return res.headers.get('x-gatelog-request-id')!;
  });
  const call = await stored(id);
  expectExact(call, seen);
  expect(call.request_body).toBe(text);
  return { id, call, seen };
}

/** The call's event as the embedded event log holds it (data dir `events/`: records of a length, a CRC, then the JSON). */
function eventLogRecord(id: string): { attempt_io: (Io & { request_set?: Record<string, string> })[] } {
  const dir = join(gl.dataDir, 'events');
  for (const f of readdirSync(dir)) {
    const data = readFileSync(join(dir, f));
    for (let pos = 0; pos + RECORD_HEADER_BYTES <= data.length;) {
      const len = data.readUInt32LE(pos);
      if (len === 0) break;
      const payload = data.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + len);
      if (payload.includes(`"request_id":"${id}"`)) return JSON.parse(payload.toString('utf8')) as never;
      pos += RECORD_HEADER_BYTES + len;
    }
  }
  throw new Error(`no record of ${id} under ${dir}`);
}

describe('attempt_io: what each upstream received and sent, exactly', () => {
  it('a plain OpenAI call stores its upstream request and response once (request_same, response_same)', async () => {
    const { id, seen } = await recording(async () => oaiId((await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'plain' }] }).withResponse()).response));
    const call = await stored(id);
    expectExact(call, seen);
    expect(call.attempt_io[0]).toMatchObject({ request_same: true, request_body: '', response_same: true, response_body: '' });
    // The JSONL export carries it too.
    const r = await fetch(`${gl.url}/admin/export?format=jsonl`, { headers: { authorization: `Bearer ${MASTER}` } });
    expect(r.status).toBe(200);
    const line = (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stored & { request_id: string }).find((x) => x.request_id === id);
    expect(line?.attempt_io).toEqual(call.attempt_io);
  });

  it('a plain answer too large to hold back (600 KiB) reaches the client whole and is stored exactly', async () => {
    const reply = `${'large answer '.repeat(48 * 1024)}end`;
    oai.behave({ reply });
    try {
      let content = '';
      const { id, seen } = await recording(async () => {
        const { data, response } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'large' }] }).withResponse();
        content = data.choices[0]?.message.content ?? '';
        return oaiId(response);
      });
      expect(content).toBe(reply);
      const call = await stored(id);
      expectExact(call, seen);
      expect(call.response_body).toBe(seen[0]!.response.toString('utf8'));
    } finally {
      oai.behave({});
    }
  });

  it('an OpenAI stream stores the injected stream_options body and the raw SSE', async () => {
    const { id, seen } = await recording(async () => {
      const { data, response } = await openai.chat.completions.create({ model: 'gpt-alias', stream: true, messages: [{ role: 'user', content: 'stream me' }] }).withResponse();
      for await (const _ of data) { /* drain */ }
      return oaiId(response);
    });
    const call = await stored(id);
    expectExact(call, seen);
    const io = call.attempt_io[0]!;
    expect(io.request_same).toBe(false);
    expect(JSON.parse(io.request_body)).toMatchObject({ model: 'gpt-4o-mini', stream_options: { include_usage: true } });
    expect(io.response_body).toContain('data: [DONE]');
  });

  it('an alias, a stream and a fallback send the client\'s own text with only the model (and stream_options) set', async () => {
    // Numbers JSON.parse cannot hold, escapes and spacing: re-serialising would change them all.
    const client = (model: string, stream: boolean): string =>
      `{\n  "model": "${model}",\n  "seed": 12345678901234567891,\n  "temperature": 0.70,\n  "messages": [ {"role": "user", "content": "caf\\u00e9 \\"as written\\""} ]${stream ? ',\n  "stream": true' : ''}\n}`;
    for (const [model, stream] of [['gpt-alias', false], ['gpt-alias', true], ['falls-back', false]] as const) {
      const text = client(model, stream);
      const { seen } = await postedExactly(text);
      const last = seen.at(-1)!.request.toString('utf8');
      const expected = text.replace(`"${model}"`, '"gpt-4o-mini"').replace(/\n}$/, stream ? '\n,"stream_options":{"include_usage":true}}' : '\n}');
      expect(last, `${model} stream=${stream}`).toBe(expected);
      if (model === 'falls-back') expect(seen[0]!.request.toString('utf8')).toBe(text.replace('"falls-back"', '"gpt-down"'));
    }
  });

  it('a long conversation through an alias, a stream and a fallback is stored exactly as each upstream received it', async () => {
    // Over REQUEST_SET_MIN_BYTES: each attempt's request travels as the client's text plus the
    // fields routing set (AttemptIo.request_set), and ingest writes it back. Over
    // PIECES_MIN_BYTES too: the proxy decodes, parses and routes it in pieces.
    const turns = Array.from({ length: 100 }, (_, i) => `{"role": "${i % 2 ? 'assistant' : 'user'}", "content": "turn ${i}: caf\\u00e9 \\"as written\\" ${'long context ✓ '.repeat(60)}"}`).join(', ');
    const client = (model: string, stream: boolean, options = ''): string =>
      `{\n  "model": "${model}",\n  "seed": 12345678901234567891,\n  "messages": [ ${turns} ]${stream ? ',\n  "stream": true' : ''}${options}\n}`;
    const cases = [['gpt-alias', true, ''], ['falls-back', true, ''], ['falls-back', false, ''], ['gpt-alias', true, ',\n  "stream_options": {"include_obfuscation": false}']] as const;
    for (const [model, stream, options] of cases) {
      const text = client(model, stream, options);
      expect(text.length).toBeGreaterThan(Math.max(REQUEST_SET_MIN_BYTES, PIECES_MIN_BYTES));
      const { id, call, seen } = await postedExactly(text);
      const sent = JSON.parse(seen.at(-1)!.request.toString('utf8')) as { model: string; stream_options?: unknown };
      expect(sent.model, `${model} stream=${stream}`).toBe('gpt-4o-mini');
      if (stream) expect(sent.stream_options).toEqual(options ? { include_obfuscation: false, include_usage: true } : { include_usage: true });
      if (model === 'falls-back') expect((JSON.parse(seen[0]!.request.toString('utf8')) as { model: string }).model).toBe('gpt-down');
      // On the event log each attempt's request travelled as the fields routing set, not a second copy.
      const logged = eventLogRecord(id);
      expect(logged.attempt_io.map((a) => a.request_set ? 'set' : a.request_same ? 'same' : 'text')).toEqual(call.attempt_io.map(() => 'set'));
      expect(logged.attempt_io.every((a) => a.request_body === '')).toBe(true);
    }
  });

  it('OpenAI → Anthropic translated, streamed and not', async () => {
    for (const stream of [false, true]) {
      const { id, seen } = await recording(async () => {
        if (!stream) return oaiId((await openai.chat.completions.create({ model: 'claude-3-5-sonnet-20241022', messages: [{ role: 'user', content: 'translate me' }] }).withResponse()).response);
        const { data, response } = await openai.chat.completions.create({ model: 'claude-3-5-sonnet-20241022', stream: true, messages: [{ role: 'user', content: 'translate me' }] }).withResponse();
        for await (const _ of data) { /* drain */ }
        return oaiId(response);
      });
      const call = await stored(id);
      expectExact(call, seen);
      expect(seen[0]!.path).toBe('/v1/messages');
      expect(call.attempt_io[0]!.request_same).toBe(false);
      expect(call.attempt_io[0]!.response_same).toBe(false);
      if (stream) expect(call.attempt_io[0]!.response_body).toContain('event: message_start');
    }
  });

  it('Anthropic → OpenAI translated, streamed and not; Anthropic passthrough', async () => {
    for (const [model, stream] of [['gpt-alias', false], ['gpt-alias', true], ['claude-3-5-sonnet-20241022', false]] as const) {
      const { id, seen } = await recording(() => anthropicCall({ model, max_tokens: 64, messages: [{ role: 'user' as const, content: `anthropic ${model} ${stream}` }] }, stream));
      const call = await stored(id);
      expectExact(call, seen);
      const passthrough = model.startsWith('claude');
      expect(seen[0]!.path).toBe(passthrough ? '/v1/messages' : '/v1/chat/completions');
      expect(call.attempt_io[0]!.request_same).toBe(passthrough);
    }
  });

  it('a long Anthropic conversation through an alias (as Claude Code sends it), streamed and not, is stored exactly as sent', async () => {
    // Longer than PIECES_MIN_BYTES: decoded, parsed and routed in pieces.
    const messages = Array.from({ length: 100 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: `step ${i}: résumé ✓ “quoted” ${'tool output line '.repeat(60)}` }));
    messages.push({ role: 'user', content: 'and now?' });
    for (const stream of [false, true]) {
      const { id, seen } = await recording(() => anthropicCall({ model: 'claude-alias', max_tokens: 64, system: 'You are a careful agent.', messages }, stream));
      const call = await stored(id);
      expectExact(call, seen);
      expect(call.request_body.length).toBeGreaterThan(Math.max(REQUEST_SET_MIN_BYTES, PIECES_MIN_BYTES));
      expect((JSON.parse(seen[0]!.request.toString('utf8')) as { model: string }).model).toBe('claude-3-5-sonnet-20241022');
      expect(eventLogRecord(id).attempt_io[0]?.request_set).toEqual({ model: '"claude-3-5-sonnet-20241022"' });
    }
  });

  it('a fallback (first deployment 500s, retried once) stores all three attempts', async () => {
    for (const stream of [false, true]) {
      const { id, seen } = await recording(async () => {
        if (!stream) return oaiId((await openai.chat.completions.create({ model: 'falls-back', messages: [{ role: 'user', content: 'fall back' }] }).withResponse()).response);
        const { data, response } = await openai.chat.completions.create({ model: 'falls-back', stream: true, messages: [{ role: 'user', content: 'fall back' }] }).withResponse();
        for await (const _ of data) { /* drain */ }
        return oaiId(response);
      });
      const call = await stored(id);
      expect(seen.map((e) => e.status)).toEqual([500, 500, 200]);
      expect(call.attempts.map((a) => a.provider)).toEqual(['down', 'down', 'oai']);
      expectExact(call, seen);
      expect(JSON.parse(call.attempt_io[0]!.request_body)).toMatchObject({ model: 'gpt-down' });
      expect(JSON.parse(call.attempt_io[2]!.request_body)).toMatchObject({ model: 'gpt-4o-mini' });
    }
  });

  it('erasure empties every attempt\'s bodies and hashes, and keeps provider request ids', async () => {
    const trace = `erase-${Date.now()}`;
    const { id, seen } = await recording(async () => oaiId((await openai.chat.completions.create(
      { model: 'falls-back', messages: [{ role: 'user', content: 'erase me' }] }, { headers: { 'x-gatelog-trace-id': trace } },
    ).withResponse()).response));
    expectExact(await stored(id), seen);
    const r = await fetch(`${gl.url}/admin/erase`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ trace }) });
    expect(r.status).toBe(200);
    const after = await stored(id);
    expect(after.attempt_io).toHaveLength(3);
    after.attempt_io.forEach((io, i) => {
      expect(io, `attempt ${i}`).toMatchObject({ request_body: '', response_body: '', request_sha256: '', response_sha256: '', provider_request_id: seen[i]!.requestId });
    });
    expect(JSON.stringify(after)).not.toContain('erase me');
  });

  it('a retry (429, then 200) stores both attempts', async () => {
    for (const stream of [false, true]) {
      oaiFlaky.queue({ error: { status: 429, headers: { 'retry-after': '0' } } });
      const { id, seen } = await recording(async () => {
        if (!stream) return oaiId((await openai.chat.completions.create({ model: 'retried', messages: [{ role: 'user', content: 'retry' }] }).withResponse()).response);
        const { data, response } = await openai.chat.completions.create({ model: 'retried', stream: true, messages: [{ role: 'user', content: 'retry' }] }).withResponse();
        for await (const _ of data) { /* drain */ }
        return oaiId(response);
      });
      const call = await stored(id);
      expect(seen.map((e) => e.status)).toEqual([429, 200]);
      expectExact(call, seen);
      expect(call.attempt_io[0]!.response_body).toContain('fake upstream error');
    }
  });
});

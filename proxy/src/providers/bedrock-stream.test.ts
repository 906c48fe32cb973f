import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { BedrockEventStreamToSse, FramingError, bedrockError } from './bedrock-stream.ts';
import { EventStreamCodec, fromUtf8, toUtf8 } from './aws-wire.ts';
import { readThrough } from '../capture/link.ts';
import { createProviders } from './registry.ts';
import { parseConfig } from '@gatelog/core';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const frame = (headers: Record<string, string>, payload: unknown): Buffer =>
  Buffer.from(codec.encode({ headers: Object.fromEntries(Object.entries(headers).map(([k, value]) => [k, { type: 'string' as const, value }])), body: fromUtf8(JSON.stringify(payload)) }));
const chunk = (event: unknown): Buffer =>
  frame({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, { bytes: Buffer.from(JSON.stringify(event)).toString('base64'), p: 'abc' });
const exception = (name: string, message: string): Buffer => frame({ ':exception-type': name, ':content-type': 'application/json', ':message-type': 'exception' }, { message });

const START = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-3-5-haiku-20241022', usage: { input_tokens: 5, output_tokens: 1 } } };
const DELTA = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo\nwörld' } };
const sse = (e: { type: string }): string => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

describe('Bedrock eventstream → Anthropic SSE', () => {
  it('turns chunk events into SSE events, whatever the read boundaries', () => {
    const bytes = Buffer.concat([chunk(START), chunk(DELTA), chunk({ type: 'message_stop' })]);
    const want = sse(START) + sse(DELTA) + sse({ type: 'message_stop' });
    // Every split: whole, a frame split across reads, one byte at a time.
    for (const step of [bytes.length, 7, 1]) {
      const d = new BedrockEventStreamToSse();
      let out = '';
      for (let i = 0; i < bytes.length; i += step) out += d.push(bytes.subarray(i, i + step)).toString('utf8');
      out += d.end().toString('utf8');
      expect(out).toBe(want);
      expect(d.opening).toBeNull();
    }
  });

  it('writes an event with line breaks between its tokens as one data line', () => {
    const bytes = frame({ ':event-type': 'chunk', ':message-type': 'event' }, { bytes: Buffer.from('{\n"type": "ping"\n}').toString('base64') });
    expect(new BedrockEventStreamToSse().push(bytes).toString()).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });

  it('an exception becomes Anthropic’s error event; as the first frame it is the opening failure', () => {
    const d = new BedrockEventStreamToSse();
    const out = d.push(exception('throttlingException', 'Too many requests, please wait before trying again.')).toString();
    expect(out).toBe(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Too many requests, please wait before trying again.' } })}\n\n`);
    expect(d.opening).toEqual({ status: 429, type: 'rate_limit_error', message: 'Too many requests, please wait before trying again.' });

    // Events of other types say nothing: an exception after them still comes before anything was said.
    const late = new BedrockEventStreamToSse();
    late.push(Buffer.concat([frame({ ':event-type': 'initial-response', ':message-type': 'event' }, {}), exception('serviceUnavailableException', 'busy')]));
    expect(late.opening).toMatchObject({ status: 503, type: 'overloaded_error' });

    const mid = new BedrockEventStreamToSse();
    const text = mid.push(Buffer.concat([chunk(START), exception('modelStreamErrorException', 'boom')])).toString();
    expect(text).toContain('"type":"api_error","message":"boom"');
    expect(mid.opening).toBeNull();
  });

  it('maps exceptions by name, HTTP-style or stream-style, and unknown ones by status', () => {
    expect(bedrockError('ThrottlingException', 400, 'x').status).toBe(429);
    expect(bedrockError('serviceUnavailableException', 0, 'x')).toMatchObject({ status: 503, type: 'overloaded_error' });
    expect(bedrockError('ModelTimeoutException', 408, 'x').status).toBe(504);
    expect(bedrockError('ValidationException', 400, 'x')).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect(bedrockError('SomethingNewException', 418, 'x')).toMatchObject({ status: 418, type: 'invalid_request_error' });
    expect(bedrockError('', 0, 'x')).toMatchObject({ status: 500, type: 'api_error' });
  });

  it('a bad CRC, an impossible length or a cut frame throws FramingError (coded), never a crash', () => {
    const bad = chunk(START);
    bad.writeUInt32BE((bad.readUInt32BE(bad.length - 4) ^ 1) >>> 0, bad.length - 4);
    expect(() => new BedrockEventStreamToSse().push(bad)).toThrow(FramingError);
    const badPrelude = chunk(START);
    badPrelude.writeUInt32BE((badPrelude.readUInt32BE(8) ^ 1) >>> 0, 8);
    expect(() => new BedrockEventStreamToSse().push(badPrelude)).toThrow(/prelude checksum/);
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0xffffffff, 0);
    expect(() => new BedrockEventStreamToSse().push(huge)).toThrow(/impossible length/);
    const cut = new BedrockEventStreamToSse();
    cut.push(chunk(START).subarray(0, 30));
    expect(() => cut.end()).toThrow(FramingError);
    try {
      new BedrockEventStreamToSse().push(bad);
    } catch (err) {
      expect((err as FramingError).code).toBe('GATELOG_ERR_UPSTREAM_FRAMING');
    }
  });

  it('read through a stream: a bad CRC mid-stream fails the stream with the error, the process goes on', async () => {
    const bad = chunk(DELTA);
    bad.writeUInt32BE((bad.readUInt32BE(bad.length - 4) + 1) >>> 0, bad.length - 4);
    const d = new BedrockEventStreamToSse();
    const s = readThrough(Readable.from([chunk(START), bad, chunk({ type: 'message_stop' })]), { chunk: (b) => d.push(b), end: () => d.end() });
    const got: string[] = [];
    await expect((async () => {
      for await (const c of s) got.push(String(c));
    })()).rejects.toBeInstanceOf(FramingError);
    // Whatever came before the bad frame and was read in time; nothing after it.
    expect(sse(START).startsWith(got.join(''))).toBe(true);
  });
});

describe('bedrock provider', () => {
  it('a stream whose first frame is corrupt fails the attempt as an upstream error (thrown, coded), not a 200', async () => {
    const bad = chunk(START);
    bad.writeUInt32BE((bad.readUInt32BE(bad.length - 4) + 1) >>> 0, bad.length - 4);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      res.end(bad);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = parseConfig({ providers: { b: { kind: 'bedrock', region: 'us-east-1', base_url: url, api_key: 'bedrock-api-key-123456' } } }, 'test', {});
    const providers = createProviders(config);
    try {
      const json = { model: 'anthropic.claude-3-5-haiku-20241022-v1:0', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] };
      await expect(providers.byName.get('b')!.call({ api: 'anthropic.messages', model: json.model, body: JSON.stringify(json), json, stream: true, signal: new AbortController().signal }))
        .rejects.toMatchObject({ code: 'GATELOG_ERR_UPSTREAM_FRAMING' });
    } finally {
      await providers.close();
      server.close();
    }
  });
});

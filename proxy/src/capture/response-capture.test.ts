import { describe, expect, it } from 'vitest';
import { StreamCapture, captureKind, stripUsageNull, summarizeJsonBody, usageKey } from './response-capture.ts';

const chunk = (o: unknown): string => `data: ${JSON.stringify(o)}\n\n`;

describe('StreamCapture (filtering: the proxy asked for usage)', () => {
  const frames = [
    chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }], usage: null }),
    chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }),
    chunk({ id: 'c', model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }),
    'data: [DONE]\n\n',
  ].join('');

  it('withholds the usage-only chunk and the usage:null members, keeps the rest byte-exact', () => {
    const c = new StreamCapture('chat', true);
    const out = Buffer.concat([...c.filter(Buffer.from(frames)), ...c.end()]).toString();
    expect(c.assembler.finishReason).toBe('stop');
    expect(c.assembler.outputText()).toBe('Hi');
    expect(out).toBe(
      [
        chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }),
        chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
        'data: [DONE]\n\n',
      ].join(''),
    );
    expect(c.assembler.usage).toEqual({ prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 });
    expect(c.sawDone).toBe(true);
  });

  it('forwards everything when the client asked for usage itself', () => {
    const c = new StreamCapture('chat', false);
    c.observe(Buffer.from(frames));
    expect(c.assembler.chunks).toBe(0); // parsing waits for digest(), after the write
    c.digest();
    expect(c.assembler.usage?.prompt_tokens).toBe(3);
    expect(c.assembler.chunks).toBe(3);
    expect(Buffer.concat(new StreamCapture('chat', false).filter(Buffer.from(frames))).toString()).toBe(frames);
  });
});

describe('stripUsageNull', () => {
  it.each([
    ['data: {"a":1,"usage":null}\n\n', 'data: {"a":1}\n\n'],
    ['data: {"usage":null,"a":1}\n\n', 'data: {"a":1}\n\n'],
    ['data: {"a":1, "usage" : null }\n\n', 'data: {"a":1 }\n\n'],
    ['data: {"a":"\\"usage\\":null"}\n\n', 'data: {"a":"\\"usage\\":null"}\n\n'],
  ])('%j', (input, expected) => {
    expect(stripUsageNull(Buffer.from(input)).toString()).toBe(expected);
  });
});

describe('the usage key search (by `usage"`, not by a pattern that starts with a quote)', () => {
  // What the two `includes` it replaces said.
  const reference = (d: string): number => (!d.includes('"usage"') ? 0 : d.includes('"usage":null') ? 2 : 1);
  it.each([
    '{"a":1}',
    '{"a":1,"usage":null}',
    '{"usage":null,"a":1}',
    '{"a":1,"usage":{"prompt_tokens":3}}',
    '{"a":1, "usage" : null }',
    '{"content":"my usage","a":1}',
    '{"content":"my usage","usage":null}',
    '{"content":"usage","usage":{"x":1}}',
    '{"a":"\\"usage\\":null"}',
    '{"a":"usage\\"","usage":null}',
    '{"usage":{"x":1},"b":{"usage":null}}',
    '{"usage":null,"b":{"a":1,"usage":null}}',
    'usage":null',
    '"usage":nul',
    '',
  ])('%j', (d) => {
    expect(usageKey(d)).toBe(reference(d));
  });
});

describe('summarizeJsonBody', () => {
  it('reads model, finish_reason and usage', () => {
    const s = summarizeJsonBody(JSON.stringify({ model: 'm-1', choices: [{ finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 2 } } }), 200);
    expect(s).toMatchObject({ upstreamModel: 'm-1', finishReason: 'stop', tokens: { input_tokens: 2, output_tokens: 3, cached_tokens: 1, reasoning_tokens: 2, tokens_estimated: false } });
  });

  it('reads OpenAI errors and survives non-JSON bodies', () => {
    expect(summarizeJsonBody('{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}', 429)).toMatchObject({ errorType: 'rate_limit_exceeded', errorMessage: 'slow down' });
    expect(summarizeJsonBody('<html>bad gateway</html>', 502)).toMatchObject({ errorType: 'upstream_http_error', errorMessage: '<html>bad gateway</html>' });
    expect(summarizeJsonBody('not json', 200)).toMatchObject({ tokens: null, upstreamModel: '' });
  });
});

describe('summarizeJsonBody on large bodies', () => {
  it('scans a large embeddings body to the same result as a full parse', () => {
    const data = Array.from({ length: 200 }, (_v, index) => ({ object: 'embedding', index, embedding: Array.from({ length: 64 }, (_w, j) => Math.sin(index + j)) }));
    const usage = { prompt_tokens: 1234, total_tokens: 1234 };
    const text = JSON.stringify({ object: 'list', data, model: 'text-embedding-3-small', usage });
    expect(text.length).toBeGreaterThan(16 * 1024);
    const s = summarizeJsonBody(text, 200);
    expect(s).toMatchObject({ upstreamModel: 'text-embedding-3-small', tokens: { input_tokens: 1234, output_tokens: 0 } });
  });

  it('falls back to a full parse when a large body has no usage', () => {
    const content = 'word '.repeat(5000);
    const text = JSON.stringify({ model: 'm', choices: [{ message: { content }, finish_reason: 'length' }] });
    expect(summarizeJsonBody(text, 200)).toMatchObject({ upstreamModel: 'm', finishReason: 'length', tokens: null, outputText: content });
  });
});

describe('summarizeJsonBody on image and moderation answers (no_text)', () => {
  const image = (bytes: number, usage?: unknown): string =>
    JSON.stringify({ created: 1, data: [{ b64_json: Buffer.alloc(bytes, 7).toString('base64'), revised_prompt: 'p' }], ...(usage ? { usage } : {}) });
  const gptImageUsage = { input_tokens: 12, input_tokens_details: { text_tokens: 12, image_tokens: 0 }, output_tokens: 272, total_tokens: 284 };

  it('records gpt-image-1 usage as reported, small or large', () => {
    for (const bytes of [16, 2 << 20]) {
      expect(summarizeJsonBody(image(bytes, gptImageUsage), 200, captureKind('openai.images')).tokens).toMatchObject({ input_tokens: 12, output_tokens: 272, tokens_estimated: false });
    }
  });

  it('records 0 tokens when none were reported (DALL·E, moderations): never an estimate from base64', () => {
    for (const bytes of [16, 2 << 20]) {
      const s = summarizeJsonBody(image(bytes), 200, captureKind('openai.images'));
      expect(s).toMatchObject({ tokens: { input_tokens: 0, output_tokens: 0, tokens_estimated: false }, outputText: '' });
    }
    const mod = JSON.stringify({ id: 'modr-1', model: 'omni-moderation-2024-09-26', results: [{ flagged: false, categories: {}, category_scores: {} }] });
    expect(summarizeJsonBody(mod, 200, captureKind('openai.moderations'))).toMatchObject({ upstreamModel: 'omni-moderation-2024-09-26', tokens: { input_tokens: 0, output_tokens: 0 } });
    // Errors are read as on every endpoint.
    expect(summarizeJsonBody('{"error":{"message":"bad","type":"invalid_request_error","code":"content_policy_violation"}}', 400, 'no_text')).toMatchObject({ errorType: 'content_policy_violation', tokens: null });
  });
});

describe('summarizeJsonBody on audio answers (no_text)', () => {
  it('records gpt-4o-transcribe\'s tokens with the audio part; Whisper\'s seconds and text transcripts are 0 tokens, never an estimate', () => {
    const usage = { type: 'tokens', input_tokens: 61, input_token_details: { text_tokens: 4, audio_tokens: 57 }, output_tokens: 19, total_tokens: 80 };
    expect(summarizeJsonBody(JSON.stringify({ text: 'hello', usage }), 200, captureKind('openai.audio.transcriptions')).tokens)
      .toMatchObject({ input_tokens: 61, output_tokens: 19, input_audio_tokens: 57, tokens_estimated: false });
    const whisper = JSON.stringify({ text: 'hello', usage: { type: 'duration', seconds: 9 } });
    expect(summarizeJsonBody(whisper, 200, captureKind('openai.audio.transcriptions'))).toMatchObject({ tokens: { input_tokens: 0, output_tokens: 0, tokens_estimated: false }, outputText: '' });
    for (const text of ['hello there\n', `1\n00:00:00,000 --> 00:00:02,000\n${'word '.repeat(5000)}\n\n`]) {
      expect(summarizeJsonBody(text, 200, captureKind('openai.audio.translations'))).toMatchObject({ tokens: { input_tokens: 0, output_tokens: 0, tokens_estimated: false }, outputText: '' });
    }
    expect(summarizeJsonBody('{"error":{"message":"bad","type":"invalid_request_error","code":null}}', 400, captureKind('openai.audio.speech'))).toMatchObject({ errorType: 'invalid_request_error', tokens: null });
  });
});

describe('StreamCapture.digest', () => {
  it('assembles in stream order even when one chunk is malformed', () => {
    const c = new StreamCapture('chat', false);
    const data = [
      chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'a' } }] }),
      'data: {not json\n\n',
      chunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'b' }, finish_reason: 'stop' }] }),
    ].join('');
    c.observe(Buffer.from(data));
    c.digest();
    expect(c.assembler.outputText()).toBe('ab');
    expect(c.assembler.finishReason).toBe('stop');
  });
});

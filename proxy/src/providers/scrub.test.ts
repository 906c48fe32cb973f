import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REDACTED, createScrubber, withScrubbedErrors } from './scrub.ts';
import type { Provider, UpstreamCall } from './types.ts';

const CONFIGURED = 'my-own-upstream-key-0123456789';

describe('createScrubber', () => {
  const scrub = createScrubber([CONFIGURED, 'short']);

  it.each([
    ['the configured key', `Incorrect API key provided: ${CONFIGURED}.`],
    ['an OpenAI project key', 'key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345 is invalid'],
    ['an Anthropic key', 'invalid x-api-key sk-ant-api03-AbCdEfGhIjKlMnOpQrSt_uvwxyz-0123'],
    ['an AWS access key id', 'The security token AKIAIOSFODNN7EXAMPLE is invalid'],
    ['a GitHub token', 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789 expired'],
    ['a Slack token', 'xoxb-123456789012-abcdefghijkl rejected'],
    ['a JWT', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c bad'],
    ['a Bearer credential', 'Authorization: Bearer abc.DEF-ghi_jkl~mno+pqr/stu= was refused'],
    ['a gatelog key', 'gl-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcde'],
  ])('removes %s', (_what, text) => {
    const out = scrub(text);
    expect(out).toContain(REDACTED);
    for (const word of text.split(/[\s:]+/)) if (word.length >= 20) expect(out).not.toContain(word.replace(/[.]$/, ''));
  });

  it('leaves ordinary text alone, short configured values included', () => {
    const text = '{"error":{"message":"The model `gpt-5` does not exist, short answer","type":"invalid_request_error"}}';
    expect(scrub(text)).toBe(text);
  });

  it('keeps JSON valid', () => {
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${CONFIGURED} (Bearer ${CONFIGURED})`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    const parsed = JSON.parse(scrub(body)) as { error: { message: string } };
    expect(parsed.error.message).toBe(`Incorrect API key provided: ${REDACTED} (Bearer ${REDACTED})`);
  });
});

describe('withScrubbedErrors', () => {
  const provider = (status: number, body: string): Provider => ({
    name: 'p',
    kind: 'openai',
    priceProviderId: undefined,
    models: [],
    close: () => Promise.resolve(),
    call: () => Promise.resolve({ status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body.slice(0, 10)), Buffer.from(body.slice(10))]) }),
  });
  const call = {} as UpstreamCall;
  const read = async (r: Readable): Promise<string> => {
    let s = '';
    for await (const c of r as AsyncIterable<Buffer>) s += c.toString();
    return s;
  };

  it('scrubs error answers, even a key split across chunks', async () => {
    const p = withScrubbedErrors(provider(401, `{"message":"bad key ${CONFIGURED}"}`), createScrubber([CONFIGURED]));
    const res = await p.call(call);
    expect(res.status).toBe(401);
    expect(await read(res.body)).toBe(`{"message":"bad key ${REDACTED}"}`);
  });

  it('passes successful answers through untouched (streams are not buffered)', async () => {
    const inner = provider(200, `{"text":"${CONFIGURED}"}`);
    const p = withScrubbedErrors(inner, createScrubber([CONFIGURED]));
    expect(await read((await p.call(call)).body)).toBe(`{"text":"${CONFIGURED}"}`);
  });
});

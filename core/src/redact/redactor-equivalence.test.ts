// The redaction's output is part of what gatelog stores: a faster implementation must give
// byte-for-byte the same stored texts and the same counts. testdata/reference-*.ts is the
// implementation as it was before the one-pass JSON view and the detector prefilters; every
// input here goes through both, under several configs and body caps.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jsonView } from './redactor.ts';
import { PIECES_MIN_BYTES, parseJsonPieces } from '../json/pieces.ts';
import { chatBody, completion, SMALL_REQUEST } from './testdata/bodies.ts';
import { createPrivacy, RedactionConfig } from './policy.ts';
import { jsonView as referenceJsonView } from './testdata/reference-redactor.ts';
import { createPrivacy as createReferencePrivacy, RedactionConfig as ReferenceConfig } from './testdata/reference-policy.ts';

const CONFIGS: unknown[] = [
  {},
  { custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }] },
  { detectors: ['phone', 'card'] },
  { detectors: ['ssn', 'iban', 'ip'] },
  { detectors: ['secrets'] },
  { detectors: ['email', 'phone'] },
];
const pairs = CONFIGS.map((c) => ({ now: createPrivacy(RedactionConfig.parse(c)), then: createReferencePrivacy(ReferenceConfig.parse(c)) }));
const LOG = { forward: false, store: 'redacted' } as const;
/** Placeholder types found along the way: the inputs must exercise every detector. */
const seen = new Set<string>();
const FORWARD = { forward: true, store: 'none' } as const;

/** Both implementations over one call's texts, under every config, a large and a small cap. */
function same(request: string, response = '', error = ''): void {
  expect(jsonView(request)).toBe(referenceJsonView(request));
  // A long body as the proxy holds it: in pieces (core/src/json/pieces.ts).
  const inPieces = Buffer.byteLength(request) >= PIECES_MIN_BYTES ? parseJsonPieces(Buffer.from(request)) : undefined;
  for (const { now, then } of pairs) {
    for (const cap of [16 << 20, 64]) {
      for (const t of [LOG, FORWARD]) {
        const a = now.stored(t, now.call(), { request, response, error }, cap);
        const b = then.stored(t, then.call(), { request, response, error }, cap);
        expect(a).toEqual(b);
        if (inPieces) {
          const { requestPieces, ...c } = now.stored(t, now.call(), { request: inPieces.text, response, error, requestPieces: inPieces.pieces }, cap);
          expect(c).toEqual(b);
          if (requestPieces) expect(requestPieces.join('')).toBe(c.request);
        }
        for (const k of Object.keys(a.counts)) seen.add(k);
      }
    }
    // One call whose state carries from one scan to the next (placeholders, counts).
    const c = now.call();
    const d = then.call();
    const first = [now.stored(LOG, c, { request, response: '', error }, 16 << 20), now.stored(LOG, c, { request: response, response: request, error: '' }, 16 << 20)];
    const second = [then.stored(LOG, d, { request, response: '', error }, 16 << 20), then.stored(LOG, d, { request: response, response: request, error: '' }, 16 << 20)];
    expect(first).toEqual(second);
    expect(c.counts).toEqual(d.counts);
  }
}

// Test-only shapes of real secrets and personal data (not real credentials or people).
const FRAGMENTS = [
  'alice.smith+tag@example.co.uk', 'a@x.io', 'jane.doe@example.com', 'x@y', '@', 'mail@host.c0m',
  '+1 415-555-0132', '+44 (20) 7946 0018', '+49.30.1234567', '+1', '(415) 555-0132', '415.555.0132', '415-555-0132', '212 555 0199',
  '020 7946 0018', '030/1234567', '089-12345-67', '0800 123', '01 23', '1/030 1234', '9)089 12345', '7 (030 12345', '5.030 1234', '(555) 0301234',
  '4111 1111 1111 1111', '4111111111111111', '4111-1111-1111-1111', '4111 1111 1111 1112', '378282246310005', '6011 0009 9013 9424 123',
  'DE89 3704 0044 0532 0130 00', 'DE89370400440532013000', 'GB82 WEST 1234 5698 7654 32', 'FR14 2004 1010 0505 0001 3M02 606', 'DE89 3704 0044 0532 0130 01',
  '123-45-6789', '123 45 6789', '000-12-3456', '666-12-3456', '900-12-3456', '123-00-6789', '123-45-0000', '123-45 6789',
  '192.168.10.20', '10.0.0.1', '255.255.255.255', '256.1.1.1', '1.2.3.4.5', '10.2.3', '0.0.0.0',
  '2001:db8:85a3::8a2e:370:7334', '2001:db8:cafe::7334:1.', '::1', 'fe80::1%eth0', '::ffff:192.168.0.1', 'std::vector', '12:30:45', 'ab:cd:ef', 'dead:beef::',
  'sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123456', 'sk-AbCdEfGhIjKlMnOpQrStUvWx', 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-123456', 'sk-sk-sk-', 'sk-svcacct-0123456789abcdefghijKLMN',
  'AKIAIOSFODNN7EXAMPLE', 'ASIAIOSFODNN7EXAMPL', 'XAKIAIOSFODNN7EXAMPLE', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'gho_abc', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop',
  'xoxb-1234567890-abcdefghij', 'xoxp-12', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJabc.def', 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY-----\\nMIIEvQIBAD', 'PRIVATE KEY-----',
  'ORD-1234567', 'ORD-123',
  'version 1.2.3', 'on 2026-12-02', 'max_tokens 1024', 'pay 1,234,567.89', 'gpt-4o-mini-2024-07-18', 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  'the quick brown fox', ' ', '  ', '.', ',', '-', '/', '(', ')', '+', ':', '_', '0', '7', '12', '555', '0132',
  '"', '\\', '\\n', '\\"', '\\\\', '\\u00e9', '\\u20ac', '\\ud83d\\ude00', '\\u', '\\u12', '{', '}', '[', ']', '":"', '","', '{"content":"', '"}', '\n', '\t',
  'é', 'ß', 'ÿ', '€', '😀', '漢字', 'Привет', '\ud800', '\udc00', '\u0000', '\u00a0',
  // Spaces beyond Latin-1 (\s matches them), inside and around a key's body.
  '\u3000', '\u2028', '\ufeff', '\u1680', '✓', '’', '-----BEGIN PRIVATE KEY-----\u3000MIIEvQ\u2028IBAD\u2003✓\ufeffAB\u3000-----END PRIVATE KEY-----',
];

/** Seeded numbers in [0, 1) from SHA-256 of (seed, block): a failure reproduces. */
function rng(seed: number): () => number {
  let block = 0;
  let bytes = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at === bytes.length) {
      bytes = createHash('sha256').update(`${seed}:${block++}`).digest();
      at = 0;
    }
    const v = bytes.readUInt32LE(at);
    at += 4;
    return v / 4294967296;
  };
}

function randomText(r: () => number): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(r() * 30);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.6) parts.push(FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]!);
    else if (k < 0.75) parts.push(String(Math.floor(r() * 1e6)));
    else if (k < 0.85) parts.push(' 0123456789-.()/+'.charAt(Math.floor(r() * 17)));
    else parts.push(String.fromCharCode(32 + Math.floor(r() * 95)));
  }
  const body = parts.join(r() < 0.5 ? '' : ' ');
  const shape = r();
  if (shape < 0.4) return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${body}"}]}`;
  if (shape < 0.6) return JSON.stringify({ content: body, n: Math.floor(r() * 1e16) });
  if (shape < 0.7) return `{"c":"${body}`; // cut off inside a string
  if (shape < 0.8) return `  [${body}`;
  return body;
}

describe('redaction equals the reference implementation', () => {
  it('on the redactor tests\' samples and look-alikes', () => {
    for (const f of FRAGMENTS) {
      same(f);
      same(`x ${f} ok`);
      same(JSON.stringify({ content: `x ${f} ok` }));
      same(`{"content":"${f}"}`);
    }
    same('{"m":"a@x.io, b@x.io and a@x.io"}', '{"r":"hello b@x.io"}', 'error for a@x.io');
    same(JSON.stringify({ content: 'line\nalice@example.com\t"4111111111111111"\\', created: 4111111111111111, n: 14155550132 }));
    same('{"a":"x\\ny","b":12}');
    same('');
  });

  it('on chat calls with and without personal data, and the bench bodies', () => {
    same(SMALL_REQUEST, completion('Hello there, it is nice to meet you today!'));
    const pii = FRAGMENTS.slice(0, 90).join(' and ');
    same(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: pii }] }), completion(`Noted: ${pii}`), `upstream said ${pii}`);
    same(JSON.stringify({ messages: [{ role: 'user', content: 'Grüße aus Köln 😀, 漢字 and \ud800 at +49 221 1234567 or 4111 1111 1111 1111' }] }));
    same('{"content":"Gr\\u00fc\\u00dfe \\ud83d\\ude00 +49 221 1234567 \\u', '{"content":"a@b.io\\');
    // Long bodies with a few wide characters among the text (an agent's context), personal data beside them.
    const wideCtx = (i: number): string => `Turn ${i}: don’t ✓ “quoted” 漢字 😀 alice${i}@example.com ’+1 415-555-01${String(i % 90 + 10)}’\u3000sk-proj-AbCdEfGhIjKlMnOpQrStUv${i}xyz ${'context '.repeat(20)}`;
    same(JSON.stringify({ model: 'gpt-4o-mini', messages: Array.from({ length: 60 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: wideCtx(i) })) }));
    // Longer than a view window (VIEW_WINDOW): read in windows that end after a quote.
    same(JSON.stringify({ model: 'gpt-4o-mini', messages: Array.from({ length: 800 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: wideCtx(i) })) }));
    same(JSON.stringify({ c: 'alice@example.com 4111 1111 1111 1111 don’t '.repeat(4000), d: 'x' }));
    for (const pii2 of [false, true]) {
      same(chatBody(2, pii2));
      same(chatBody(64, pii2));
      same(chatBody(1100, pii2)); // past the reused buffer: the string-parts view
    }
    const n = 16 * 1024;
    same(JSON.stringify({ c: '4 '.repeat(n / 2) }));
    same(JSON.stringify({ c: `${'a.'.repeat(n / 2)}@` }));
    same(JSON.stringify({ c: 'ab:'.repeat(n / 3) }));
    same(JSON.stringify({ c: 'sk-'.repeat(n / 3) }));
  });

  it('on thousands of seeded random mixes of those fragments, JSON punctuation and escapes', () => {
    const r = rng(20261203);
    seen.clear();
    for (let i = 0; i < 3000; i++) same(randomText(r), randomText(r), i % 10 === 0 ? randomText(r) : '');
    const types = ['EMAIL', 'PHONE', 'CARD', 'IBAN', 'SSN', 'IP', 'OPENAI_KEY', 'ANTHROPIC_KEY', 'AWS_KEY', 'GITHUB_TOKEN', 'SLACK_TOKEN', 'JWT', 'PRIVATE_KEY', 'ORDER'];
    expect([...seen].sort()).toEqual(types.sort());
  });

  it('on thousands of seeded random runs of digits, separators and capitals (where shapes border)', () => {
    const r = rng(7);
    const alphabet = [...'0123456789012345678901234567890123456789      ---..()/+DEGBAZx', '123-45-6789', '415', '555-0132', '4111 1111', '10.0.0.1', 'DE89 3704 0044', 'DE89 3704 0044 0532 0130 00'];
    seen.clear();
    for (let i = 0; i < 4000; i++) {
      let t = '';
      for (let n = 4 + Math.floor(r() * 30); n > 0; n--) t += alphabet[Math.floor(r() * alphabet.length)]!;
      same(i % 2 ? t : `{"c":"${t}"}`);
    }
    expect([...seen].sort()).toEqual(['CARD', 'IBAN', 'IP', 'PHONE', 'SSN']);
  });
});

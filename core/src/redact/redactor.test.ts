import { describe, expect, it } from 'vitest';
import { builtinDetectors, DETECTOR_NAMES, luhnValid, type DetectorName } from './detectors.ts';
import { createRedactor, jsonView, jsonViewParts, WIDE_SPACES } from './redactor.ts';
import { createPrivacy, parseRedactHeader, RedactionConfig, RedactHeaderError } from './policy.ts';

const redactor = createRedactor({ detectors: DETECTOR_NAMES, custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }] });
const one = (text: string): string => redactor.call().redact(text);

// Test-only shapes of real secrets (not real credentials).
const SAMPLES: [string, string][] = [
  ['mail alice.smith+tag@example.co.uk now', 'EMAIL'],
  ['call +1 415-555-0132 today', 'PHONE'],
  ['call (415) 555-0132 today', 'PHONE'],
  ['call 020 7946 0018 today', 'PHONE'],
  ['card 4111 1111 1111 1111 ok', 'CARD'],
  ['iban DE89 3704 0044 0532 0130 00 ok', 'IBAN'],
  ['ssn 123-45-6789 ok', 'SSN'],
  ['from 192.168.10.20 ok', 'IP'],
  ['from 2001:db8:85a3::8a2e:370:7334 ok', 'IP'],
  ['at 2001:db8:cafe::7334:1. ok', 'IP'],
  ['key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123456 ok', 'OPENAI_KEY'],
  ['key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-123456 ok', 'ANTHROPIC_KEY'],
  ['aws AKIAIOSFODNN7EXAMPLE ok', 'AWS_KEY'],
  ['gh ghp_0123456789abcdefghijABCDEFGHIJ012345 ok', 'GITHUB_TOKEN'],
  ['gh github_pat_11ABCDEFG0123456789_abcdefghijklmnop ok', 'GITHUB_TOKEN'],
  ['slack xoxb-1234567890-abcdefghij ok', 'SLACK_TOKEN'],
  ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok', 'JWT'],
  ['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- ok', 'PRIVATE_KEY'],
  ['order ORD-1234567 ok', 'ORDER'],
];

describe('detectors', () => {
  it.each(SAMPLES)('finds %s', (text, type) => {
    const out = one(text);
    expect(out).toContain(`[${type}_1]`);
    expect(out.endsWith('ok') || out.endsWith('now') || out.endsWith('today')).toBe(true);
  });

  it('leaves look-alikes alone', () => {
    for (const text of ['card 4111 1111 1111 1112', 'version 1.2.3', 'time 12:30:45', 'id 000-12-3456', 'iban DE89 3704 0044 0532 0130 01', 'std::vector', 'max_tokens 1024', 'on 2026-12-02', 'v 10.2.3.4.5', 'pay 1,234,567.89']) {
      expect(one(text)).toBe(text);
    }
  });

  it('each detector alone finds its own samples: the digit-shape scan runs only when a configured detector reads it', () => {
    expect(builtinDetectors(['secrets', 'email']).some((d) => d.usesShapes)).toBe(false);
    expect(builtinDetectors(['card']).every((d) => d.usesShapes)).toBe(true);
    const byDetector: Record<string, string> = { EMAIL: 'email', PHONE: 'phone', CARD: 'card', IBAN: 'iban', SSN: 'ssn', IP: 'ip' };
    for (const [text, type] of SAMPLES) {
      const name = byDetector[type] ?? (type === 'ORDER' ? undefined : 'secrets');
      if (name === undefined) continue;
      const alone = createRedactor({ detectors: [name as DetectorName], custom: [] });
      expect(alone.call().redact(text), `${name}: ${text}`).toContain(`[${type}_1]`);
    }
  });

  it('Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });
});

describe('placeholders', () => {
  it('numbers values by type and repeats them within a call', () => {
    const c = redactor.call();
    const a = c.redact('{"m":"a@x.io, b@x.io and a@x.io"}');
    const b = c.redact('{"r":"hello b@x.io"}');
    expect(a).toBe('{"m":"[EMAIL_1], [EMAIL_2] and [EMAIL_1]"}');
    expect(b).toBe('{"r":"hello [EMAIL_2]"}');
    expect(c.counts).toEqual({ EMAIL: 4 });
  });

  it('keeps JSON valid: escapes around tokens, numbers untouched', () => {
    const body = JSON.stringify({ content: 'line\nalice@example.com\t"4111111111111111"\\', created: 4111111111111111, n: 14155550132 });
    const out = one(body);
    const parsed = JSON.parse(out) as Record<string, unknown>;
    expect(parsed['content']).toBe('line\n[EMAIL_1]\t"[CARD_1]"\\');
    expect(parsed['created']).toBe(4111111111111111);
    expect(parsed['n']).toBe(14155550132);
  });

  it('jsonView keeps positions', () => {
    const t = '{"a":"x\\ny","b":12}';
    expect(jsonView(t)).toHaveLength(t.length);
    expect(jsonView(t)).toBe(' "a" "x  y" "b"    ');
  });
});

describe('policy', () => {
  const cfg = RedactionConfig.parse({ mode: 'log', aliases: { secret: 'forward' }, keys: { k1: 'metadata_only' } });
  const p = createPrivacy(cfg);
  it('takes the stricter of alias, key and header', () => {
    expect(p.treatment({ alias: 'x', keyId: '', keyName: '', requested: null })).toEqual({ forward: false, store: 'redacted' });
    expect(p.treatment({ alias: 'secret', keyId: 'k1', keyName: '', requested: null })).toEqual({ forward: true, store: 'none' });
    expect(p.treatment({ alias: 'x', keyId: '', keyName: '', requested: parseRedactHeader('off') })).toEqual({ forward: false, store: 'redacted' });
    expect(p.treatment({ alias: 'x', keyId: '', keyName: '', requested: parseRedactHeader('forward') })).toEqual({ forward: true, store: 'redacted' });
    expect(() => parseRedactHeader('nope')).toThrow(RedactHeaderError);
  });

  it('bounds the scan of a huge body and never leaves a cut token', () => {
    const c = p.call();
    const big = JSON.stringify({ content: `${'a@b.io '.repeat(100_000)}` });
    const t0 = performance.now();
    const s = p.stored({ forward: false, store: 'redacted' }, c, { request: big, response: '', error: '' }, 1000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(s.request.length).toBeLessThan(2000);
    expect(s.request).not.toMatch(/@/);
  });

  it('rejects a custom pattern RE2 cannot compile', () => {
    expect(RedactionConfig.safeParse({ custom: [{ name: 'X', pattern: '(a+' }] }).success).toBe(false);
    expect(RedactionConfig.safeParse({ custom: [{ name: 'X', pattern: '(?=a)' }] }).success).toBe(false);
  });

  it('narrows wide characters to the Latin-1 stand-ins the built-in rules read alike (WIDE_SPACES: every unit above U+00FF that \\s matches)', () => {
    const spaces: number[] = [];
    for (let u = 0x100; u <= 0xffff; u++) if (/\s/.test(String.fromCharCode(u))) spaces.push(u);
    expect([...WIDE_SPACES].sort((a, b) => a - b)).toEqual(spaces);
    const text = '{"c":"漢字 a@b.io\u3000✓\\n😀"}';
    const view = jsonView(text, true);
    expect(view).toHaveLength(text.length);
    expect(view).toBe(' "c" "\u00ff\u00ff a@b.io\u00a0\u00ff  \u00ff\u00ff" ');
    expect(jsonView(text)).toBe(jsonViewParts(text));
  });
});

// A long body decoded and parsed in pieces is the body decoded and parsed whole: the same text,
// the same object (keys in order, a repeated key's last value), pieces that never cut a string;
// and what JSON.parse refuses is never accepted.
import { describe, expect, it } from 'vitest';
import { PIECES_MIN_BYTES, parseJsonPieces, slicer } from './pieces.ts';
import { withTopLevelBoth } from './top-level.ts';

/** A seeded generator (a linear congruential one): the same bodies on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

/** JSON.parse's object, or undefined where it refuses the text. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What pieces accept, JSON.parse parses to the same object; what it refuses, pieces refuse. */
function agrees(text: string): void {
  const p = parseJsonPieces(Buffer.from(text));
  const whole = parsed(text);
  if (whole === undefined) expect(p, text.slice(-60)).toBeUndefined();
  else if (p) expect(JSON.stringify(p.json)).toBe(JSON.stringify(whole));
}

const WORDS = ['plain', 'café', '✓', 'emoji 😀', '漢字', '"quoted"', 'back\\slash', 'tab\tnl\n', '\u2028', '},{"role":"x"}', '[1,2]', 'a\u0000b', '\\u0041'];

function content(r: () => number, length: number): string {
  let s = '';
  while (s.length < length) s += `${WORDS[Math.floor(r() * WORDS.length)]!} `;
  return s;
}

/** A chat-like body of about `bytes`, in one of several shapes and spacings a client may send. */
function body(r: () => number, bytes: number): string {
  const messages: unknown[] = [];
  for (let n = 0; n < bytes;) {
    const shape = r();
    const m = shape < 0.6
      ? { role: messages.length % 2 ? 'assistant' : 'user', content: content(r, 200 + Math.floor(r() * 4000)) }
      : shape < 0.8
        ? { role: 'user', content: [{ type: 'text', text: content(r, 500) }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }
        : shape < 0.9
          ? { role: 'tool', tool_call_id: `call_${n}`, content: content(r, 3000), n: '12345678901234567891', big: 1e300 }
          : 'a bare string element';
    messages.push(m);
    n += JSON.stringify(m).length;
  }
  const o = { model: 'gpt-4o-mini', messages, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], temperature: 0.2, stream: r() < 0.5, metadata: { user_id: 'ü' } };
  const indent = r() < 0.3 ? 2 : r() < 0.5 ? '\t' : 0;
  return JSON.stringify(o, null, indent);
}

describe('parseJsonPieces', () => {
  it('gives the text and the object JSON.parse gives, in pieces that never cut a string', () => {
    const r = rng(20261206);
    for (let i = 0; i < 40; i++) {
      const text = body(r, PIECES_MIN_BYTES + Math.floor(r() * 200_000));
      const bytes = Buffer.from(text);
      const p = parseJsonPieces(bytes);
      expect(p, `body ${i}`).toBeDefined();
      expect(p!.text === text).toBe(true);
      expect(p!.pieces.join('') === text).toBe(true);
      expect(JSON.stringify(p!.json)).toBe(JSON.stringify(JSON.parse(text)));
      expect(p!.pieces.length).toBeGreaterThan(2);
      for (const piece of p!.pieces) {
        // Unescaped quotes pair up inside every piece: none starts or ends inside a string.
        const quotes = piece.replace(/\\./g, '').split('"').length - 1;
        expect(quotes % 2, piece.slice(0, 80)).toBe(0);
        expect(piece.length).toBeLessThan(64 * 1024);
      }
    }
  });

  it('keeps JSON.parse\'s order and last value for repeated keys, and its numbers and escapes', () => {
    const msgs = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ role: 'user', content: `m${i} ${'x'.repeat(200)}` })));
    const text = `{"b":1,"a":2,"messages":${msgs},"b":3,"2":"two","1":"one","n":12345678901234567891,"u":"\\u00e9\\ud83d\\ude00","messages":${msgs}}`;
    const p = parseJsonPieces(Buffer.from(text))!;
    expect(JSON.stringify(p.json)).toBe(JSON.stringify(JSON.parse(text)));
    expect(Object.keys(p.json)).toEqual(Object.keys(JSON.parse(text) as object));
  });

  it('accepts nothing JSON.parse refuses: broken bodies are left to the whole parse', () => {
    const msgs = Array.from({ length: 300 }, (_, i) => `{"role":"user","content":"m${i} ✓ ${'y'.repeat(200)}"}`);
    const good = `{"model":"m","messages":[${msgs.join(',')}]}`;
    const broken = [
      good.replace('}]}', '},]}'), // trailing comma
      good.replace('},{', '}{'), // missing comma
      good.replace('}]}', '}]'), // unclosed object
      `${good} x`, // trailing garbage
      good.replace('"m1 ', '"m1 \u0001'), // a control character in a string
      good.replace('"m2 ', '"m2 \\x'), // a bad escape
      good.replace('"content":"m3', '"content":m3'), // a bare word
      `{"__proto__":{"x":1},${good.slice(1)}`, // a key JSON.parse keeps as data
      `[${good}]`, // not an object
      good.slice(0, -40), // cut off
    ];
    for (const text of broken) agrees(text);
    // Random damage: whatever pieces accept, JSON.parse parses to the same object.
    const r = rng(7);
    for (let i = 0; i < 300; i++) {
      const at = Math.floor(r() * good.length);
      const ch = '",:{}[]\\ a1'[Math.floor(r() * 11)]!;
      agrees(r() < 0.5 ? good.slice(0, at) + ch + good.slice(at) : good.slice(0, at) + good.slice(at + 1));
    }
  });

  it('leaves to the whole decoding a body whose text is no large object, or that is not valid UTF-8', () => {
    const ascii = (kb: number): Buffer => Buffer.from(JSON.stringify({ messages: Array.from({ length: kb * 4 }, () => ({ role: 'user', content: 'x'.repeat(230) })) }));
    expect(parseJsonPieces(ascii(120))).toBeUndefined();
    expect(parseJsonPieces(ascii(130))).toBeDefined();
    const wide = (kb: number): Buffer => Buffer.from(JSON.stringify({ messages: Array.from({ length: kb * 4 }, () => ({ role: 'user', content: `✓ ${'x'.repeat(226)}` })) }));
    expect(parseJsonPieces(wide(60))).toBeUndefined();
    expect(parseJsonPieces(wide(66))).toBeDefined();
    const bad = wide(66);
    bad[100] = 0xff;
    expect(parseJsonPieces(bad)).toBeUndefined();
  });

  it('slices the text from its pieces', () => {
    const pieces = ['{"a":', '"xyz"', ',', '"b":[1,2]', '}'];
    const text = pieces.join('');
    const slice = slicer(pieces);
    for (let a = 0; a <= text.length; a++) for (let b = a; b <= text.length; b++) expect(slice(a, b)).toBe(text.slice(a, b));
  });

  it('sets top-level fields from the bytes as the whole text would', () => {
    const msgs = Array.from({ length: 250 }, (_, i) => `{"role":"user","content":"résumé ✓ ${i} ${'z'.repeat(300)}"}`).join(', ');
    const texts = [
      `{"model":"alias","messages":[${msgs}],"stream":true}`,
      `{ "messages" : [${msgs}] , "model" : "alias" , "stream_options" : {"include_obfuscation":false} }`,
      `{"messages":[${msgs}],"model":"alias","model":"again"}`,
      `{"messages":[${msgs}]}`,
      `{"mod\\u0065l":"x","messages":[${msgs}]}`,
    ];
    const set = { model: '"gpt-4o-mini"', stream_options: '{"include_usage":true}' };
    for (const text of texts) {
      const bytes = Buffer.from(text);
      const p = parseJsonPieces(bytes)!;
      const whole = withTopLevelBoth(text, bytes, set);
      const inPieces = withTopLevelBoth(p.text, bytes, set, p.pieces);
      if (whole === null) {
        expect(inPieces).toBeNull();
        continue;
      }
      expect(inPieces!.text, text.slice(0, 40)).toBe(whole.text);
      expect(inPieces!.bytes.equals(whole.bytes)).toBe(true);
    }
  });
});

// Body blocks (blocks.ts): a split body always comes back byte for byte, whatever its
// whitespace, escapes or characters; conversations that grow by appending share their blocks;
// what is not a large JSON object stays whole.
import { describe, expect, it } from 'vitest';
import { BlockCache, editedSplit, reconstruct, sha256Hex, splitBody, splitBodyBytes, type SplitBody } from './blocks.ts';
import { splicedBytes, topLevelByteEdits } from '../json/top-level.ts';
import { rng } from '../../../test/support/rng.ts';

const ALPHABET = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', 'é', 'ß', '中', '😀', '\u2028', '{', '}', '[', ']', ',', ':', '\u0001'];

function randomString(r: () => number, max: number): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)]!;
  return s;
}

/** Random JSON text with random whitespace and a random choice of escapes (\uXXXX or raw). */
function randomJson(r: () => number, depth: number): string {
  const ws = (): string => [' ', '', '\n  ', '\t', ''][Math.floor(r() * 5)]!;
  const str = (): string => {
    const s = randomString(r, r() < 0.1 ? 600 : 30);
    const json = JSON.stringify(s);
    return r() < 0.3 ? json.replace(/[^\x20-\x7e]/gu, (c) => [...c].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')) : json;
  };
  const k = r();
  if (depth <= 0 || k < 0.3) {
    const leaf = Math.floor(r() * 5);
    return [str(), String(Math.floor(r() * 1e6) / 100), 'true', 'null', '-1.5e3'][leaf]!;
  }
  const n = Math.floor(r() * 5);
  const items = Array.from({ length: n }, () => randomJson(r, depth - 1));
  if (k < 0.65) return `[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]`;
  return `{${ws()}${items.map((v) => `${str()}${ws()}:${ws()}${v}`).join(`${ws()},${ws()}`)}${ws()}}`;
}

const blockMap = (s: SplitBody): Map<string, string> => new Map(s.blocks.map((b) => [b.hash, b.body]));

describe('splitBody / reconstruct', () => {
  it('round-trips random JSON objects byte for byte (300 seeds)', () => {
    let split = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const body = `${r() < 0.5 ? ' ' : ''}{"messages": [${Array.from({ length: 3 + Math.floor(r() * 20) }, () => randomJson(r, 4)).join(',')}], "system": ${randomJson(r, 3)}, "k": ${randomJson(r, 5)}}${r() < 0.5 ? '\n' : ''}`;
      const s = splitBody(body, { minBodyBytes: 256, minBlockBytes: 64 });
      if (!s) continue;
      split++;
      expect(Buffer.from(reconstruct(s.skeleton, s.parts, blockMap(s))).equals(Buffer.from(body)), `seed ${seed}`).toBe(true);
      for (const b of s.blocks) {
        expect(b.hash).toBe(sha256Hex(Buffer.from(b.body)));
        expect(b.bytes).toBe(Buffer.byteLength(b.body));
      }
      expect(Buffer.byteLength(s.skeleton) + s.parts.reduce((n, p) => n + Buffer.byteLength(blockMap(s).get(p.hash)!), 0)).toBe(Buffer.byteLength(body));
    }
    expect(split).toBeGreaterThan(200);
  });

  it('edits a split as splitting the edited body would (editedSplit), or declines', () => {
    let derived = 0, declined = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const big = r() < 0.2;
      const body = Buffer.from(`{"model":${big ? JSON.stringify('m'.repeat(100)) : '"a"'},"messages": [${Array.from({ length: 3 + Math.floor(r() * 20) }, () => randomJson(r, 4)).join(',')}], "k": ${randomJson(r, 3)}}`);
      const o = { minBodyBytes: 256, minBlockBytes: 64 };
      const base = splitBodyBytes(body, o);
      if (!base) continue;
      // An alias's model, a stream option added, and at times a value long enough to be cut.
      const set: Record<string, string> = { model: JSON.stringify(r() < 0.5 ? 'gpt-4o-2024-08-06' : 'x') };
      if (r() < 0.5) set['stream_options'] = '{"include_usage":true}';
      if (r() < 0.2) set['k'] = JSON.stringify('k'.repeat(80));
      const edits = topLevelByteEdits(body, set)!;
      const want = splitBodyBytes(splicedBytes(body, edits), o);
      const got = editedSplit(base, edits, o);
      if (!got) {
        declined++;
        continue;
      }
      derived++;
      expect(got.skeleton.equals(want!.skeleton), `seed ${seed}`).toBe(true);
      expect(got.parts, `seed ${seed}`).toEqual(want!.parts);
      expect(got.cuts, `seed ${seed}`).toEqual(want!.cuts);
      expect(got.blocks.map((b) => b.hash).sort()).toEqual(want!.blocks.map((b) => b.hash).sort());
    }
    expect(derived).toBeGreaterThan(100);
    expect(declined).toBeGreaterThan(10);
  });

  it('leaves small bodies, non-objects and malformed JSON whole', () => {
    const big = 'x'.repeat(40_000);
    expect(splitBody(JSON.stringify({ a: 'small' }))).toBeNull();
    expect(splitBody(JSON.stringify([big, big]))).toBeNull();
    expect(splitBody(`{"a": "${big}"`)).toBeNull();
    expect(splitBody(`{"a": "${big}"} trailing`)).toBeNull();
    expect(splitBody(`{"a" "${big}"}`)).toBeNull();
    expect(splitBody(`not json ${big}`)).toBeNull();
    expect(splitBody(JSON.stringify({ a: big }))).not.toBeNull();
  });

  it('shares the repeated prefix of a growing conversation', () => {
    const system = 'You are a coding agent. '.repeat(400);
    const tools = Array.from({ length: 20 }, (_, i) => ({ name: `tool_${i}`, description: 'Does a thing. '.repeat(30), input_schema: { type: 'object' } }));
    const messages: unknown[] = [];
    const seen = new Map<string, number>();
    let last = 0;
    let skeletons = 0;
    for (let turn = 0; turn < 30; turn++) {
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `t${turn}`, content: `result ${turn} `.repeat(300) }] });
      const marked = messages.map((m, i) => (i === messages.length - 1 ? { ...(m as object), content: [{ ...((m as { content: object[] }).content[0]), cache_control: { type: 'ephemeral' } }] } : m));
      const body = JSON.stringify({ model: 'claude', system, tools, messages: marked });
      last = body.length;
      const s = splitBody(body);
      if (!s) continue;
      expect(reconstruct(s.skeleton, s.parts, blockMap(s))).toBe(body);
      skeletons += s.skeleton.length;
      for (const b of s.blocks) seen.set(b.hash, b.bytes);
      messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `t${turn + 1}`, name: 'bash', input: { cmd: 'ls' } }] });
    }
    const stored = skeletons + [...seen.values()].reduce((a, b) => a + b, 0);
    // Stored once: the last call's bytes, plus skeletons that keep only a head and a tail per
    // top-level value (not a wrapper per message: ~1.1 KB each here, whatever the turn).
    expect(stored).toBeLessThan(last * 1.5);
    expect(skeletons).toBeLessThan(30 * 1500);
  });

  it('splices at UTF-8 byte offsets, not string indexes', () => {
    const body = JSON.stringify({ pre: 'ü😀'.repeat(10), big: 'ß'.repeat(20_000), after: '中' });
    const s = splitBody(body)!;
    expect(s.parts).toHaveLength(1);
    expect(s.parts[0]!.at).toBe(Buffer.byteLength(s.skeleton.slice(0, s.skeleton.indexOf(',"after"'))));
    expect(reconstruct(s.skeleton, s.parts, blockMap(s))).toBe(body);
    expect(reconstruct(s.skeleton, s.parts, new Map())).toContain('is no longer stored');
  });
});

describe('BlockCache', () => {
  it('keeps the most recently used bodies within its size', () => {
    const c = new BlockCache(10);
    c.set('a', '1234');
    c.set('b', '1234');
    expect(c.get('a')).toBe('1234');
    c.set('c', '1234');
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe('1234');
    expect(c.get('c')).toBe('1234');
  });
});

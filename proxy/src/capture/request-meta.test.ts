import { describe, expect, it } from 'vitest';
import { MAX_TAGS, parseTags, readRequestMeta } from './request-meta.ts';

describe('parseTags', () => {
  it.each<[string | undefined, Record<string, string>]>([
    ['env=prod,team=search', { env: 'prod', team: 'search' }],
    [' env = prod , team=a b ', { env: 'prod', team: 'a b' }],
    ['k=v=w', { k: 'v=w' }],
    ['k=', { k: '' }],
    ['novalue,=x,bad key=1,ok=1', { ok: '1' }],
    ['a=1,a=2', { a: '2' }],
    ['', {}],
    [undefined, {}],
  ])('%j', (header, expected) => {
    expect({ ...parseTags(header) }).toEqual(expected);
  });

  it('bounds the number and size of tags', () => {
    const many = Array.from({ length: 100 }, (_v, i) => `k${i}=v`).join(',');
    expect(Object.keys(parseTags(many))).toHaveLength(MAX_TAGS);
    expect(parseTags(`k=${'x'.repeat(300)}`)).toEqual({});
    expect(parseTags(`${'k'.repeat(100)}=v`)).toEqual({});
    expect(parseTags('x'.repeat(10_000))).toEqual({});
  });

  it('keeps __proto__ as a plain key', () => {
    const t = parseTags('__proto__=x');
    expect(Object.getPrototypeOf(t)).toBeNull();
    expect(t['__proto__']).toBe('x');
    expect(JSON.stringify(t)).toBe('{"__proto__":"x"}');
  });

  it('ignores repeated headers (arrays)', () => {
    expect(parseTags(['a=1', 'b=2'])).toEqual({});
  });
});

describe('readRequestMeta', () => {
  it('reads ids and drops oversized or control-character values', () => {
    const m = readRequestMeta({
      'x-gatelog-trace-id': ' trace-1 ',
      'x-gatelog-session-id': 'x'.repeat(300),
      'x-gatelog-user': 'bad\u0001user',
      'x-gatelog-tags': 'a=1',
    });
    expect(m).toEqual({ trace_id: 'trace-1', session_id: '', user: '', tags: { a: '1' } });
  });
});

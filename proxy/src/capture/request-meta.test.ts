import { describe, expect, it } from 'vitest';
import { bodyUser, MAX_TAGS, parseTags, readRequestMeta } from './request-meta.ts';

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

describe('the end user a request names', () => {
  const CC_JSON = JSON.stringify({ device_id: 'dev-1', account_uuid: 'acct-9', session_id: '5b1c3a52-7d0e-4c55-9a5e-0e6f1b2c3d4e' });
  it.each<[string, Record<string, unknown>, string]>([
    ['OpenAI user', { model: 'm', user: 'alice' }, 'alice'],
    ['OpenAI safety_identifier', { model: 'm', safety_identifier: 'hashed-1' }, 'hashed-1'],
    ['user over safety_identifier', { user: 'alice', safety_identifier: 'x' }, 'alice'],
    ['Anthropic metadata.user_id', { metadata: { user_id: 'bob' } }, 'bob'],
    ['Claude Code legacy composite: the account', { metadata: { user_id: `user_${'ab'.repeat(32)}_account_acct-1_session_5b1c3a52-7d0e-4c55-9a5e-0e6f1b2c3d4e` } }, 'acct-1'],
    ['Claude Code legacy composite without an account: the device', { metadata: { user_id: `user_${'ab'.repeat(32)}_account__session_5b1c3a52-7d0e-4c55-9a5e-0e6f1b2c3d4e` } }, `user_${'ab'.repeat(32)}`],
    ['Claude Code JSON form: the account', { metadata: { user_id: CC_JSON } }, 'acct-9'],
    ['not a string', { user: 42, metadata: { user_id: ['x'] } }, ''],
    ['oversized', { user: 'u'.repeat(300) }, ''],
    ['control characters', { user: 'a\nb' }, ''],
    ['no body fields', { model: 'm' }, ''],
  ])('%s', (_name, body, user) => {
    expect(bodyUser(body)).toBe(user);
    expect(readRequestMeta({}, body).user).toBe(user);
  });

  it('takes the x-gatelog-user header, then Helicone\'s, over the body', () => {
    expect(readRequestMeta({ 'x-gatelog-user': 'h', 'helicone-user-id': 'k' }, { user: 'b' }).user).toBe('h');
    expect(readRequestMeta({ 'helicone-user-id': 'k' }, { user: 'b' }).user).toBe('k');
    expect(readRequestMeta({ 'x-gatelog-user': 'bad\u0001' }, { user: 'b' }).user).toBe('b');
  });
});

describe('metadata headers of Helicone and Portkey clients', () => {
  it('reads Helicone-Property-* as tags, bounded like x-gatelog-tags', () => {
    const m = readRequestMeta({ 'helicone-property-env': ' prod ', 'helicone-property-': 'empty name', 'helicone-property-bad': 'a\u0001b', 'helicone-property-long': 'x'.repeat(300) });
    expect({ ...m.tags }).toEqual({ env: 'prod' });
  });

  it('reads x-portkey-metadata: _user names the user, other string values are tags', () => {
    const m = readRequestMeta({ 'x-portkey-metadata': JSON.stringify({ _user: 'u1', env: 'prod', n: 1, o: {}, 'no space': 'x', __proto__: 'p' }) }, { user: 'body' });
    expect(m.user).toBe('u1');
    expect({ ...m.tags }).toEqual({ env: 'prod' });
    expect(readRequestMeta({ 'x-portkey-metadata': '["a"]' }).tags).toEqual({});
    expect(readRequestMeta({ 'x-portkey-metadata': '{bad' }, { user: 'body' }).user).toBe('body');
    expect(readRequestMeta({ 'x-portkey-metadata': JSON.stringify({ k: 'v'.repeat(10_000) }) }).tags).toEqual({});
  });

  it('keeps a JSON __proto__ key as a plain tag', () => {
    const t = readRequestMeta({ 'x-portkey-metadata': '{"__proto__":"x"}' }).tags;
    expect(Object.getPrototypeOf(t)).toBeNull();
    expect(JSON.stringify(t)).toBe('{"__proto__":"x"}');
  });

  it('x-gatelog-* headers win; at most MAX_TAGS tags in all', () => {
    const m = readRequestMeta({
      'x-gatelog-tags': 'env=own', 'helicone-property-env': 'helicone', 'helicone-property-extra': 'h',
      'x-gatelog-user': 'own-user', 'x-portkey-metadata': '{"_user":"pk"}', 'x-gatelog-trace-id': 't-own', 'x-portkey-trace-id': 't-pk',
    });
    expect({ ...m.tags }).toEqual({ env: 'own', extra: 'h' });
    expect(m.user).toBe('own-user');
    expect(m.trace_id).toBe('t-own');
    expect(readRequestMeta({ 'x-portkey-trace-id': 't-pk' }).trace_id).toBe('t-pk');
    const h: Record<string, string> = { 'x-gatelog-tags': Array.from({ length: 20 }, (_v, i) => `g${i}=v`).join(',') };
    for (let i = 0; i < 40; i++) h[`helicone-property-p${i}`] = 'v';
    const tags = readRequestMeta(h).tags;
    expect(Object.keys(tags)).toHaveLength(MAX_TAGS);
    expect(Object.keys(tags).filter((k) => k.startsWith('g'))).toHaveLength(20);
  });
});

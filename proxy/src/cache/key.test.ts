import { describe, expect, it } from 'vitest';
import { cacheKey, cacheScope, canonicalJson, decideCache, isCacheable } from './key.ts';
import { GatelogConfig } from '@gatelog/core';
import type { VirtualKey } from '../governance/keys.ts';

const body = {
  model: 'fast',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  max_tokens: 50,
  tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { b: {}, a: {} } } } }],
};
const k = (b: Record<string, unknown>, scope?: string, alias = 'fast'): string => cacheKey({ endpoint: '/v1/chat/completions', alias, body: b, scope });

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson([undefined, null, 'x'])).toBe('[null,null,"x"]');
  });
});

describe('cacheKey', () => {
  it('ignores key order and delivery-only fields', () => {
    const reordered = { max_tokens: 50, temperature: 0, tools: body.tools, messages: body.messages };
    expect(k(reordered)).toBe(k(body));
    expect(k({ ...body, stream: true, stream_options: { include_usage: true }, user: 'u1', metadata: { a: 'b' }, store: true })).toBe(k(body));
    expect(k(body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each<[string, Record<string, unknown>]>([
    ['messages', { ...body, messages: [{ role: 'user', content: 'hi!' }] }],
    ['max_tokens', { ...body, max_tokens: 51 }],
    ['temperature', { ...body, temperature: 0.1 }],
    ['tool_choice', { ...body, tool_choice: 'required' }],
    ['response_format', { ...body, response_format: { type: 'json_object' } }],
    ['seed', { ...body, seed: 1 }],
    ['an unknown parameter', { ...body, frobnicate: true }],
    ['tools', { ...body, tools: [] }],
  ])('changes with %s', (_name, changed) => {
    expect(k(changed)).not.toBe(k(body));
  });

  it('separates aliases, endpoints and scopes; the model field itself is replaced by the alias', () => {
    expect(k(body, undefined, 'smart')).not.toBe(k(body));
    expect(k({ ...body, model: 'other' })).toBe(k(body));
    expect(cacheKey({ endpoint: '/v1/messages', alias: 'fast', body })).not.toBe(k(body));
    expect(k(body, 'key:a')).not.toBe(k(body, 'key:b'));
    expect(k(body, 'key:a')).not.toBe(k(body));
  });

  it('cacheScope', () => {
    const key = { id: 'key_1', team: 'search' } as VirtualKey;
    expect(cacheScope('global', key)).toBeUndefined();
    expect(cacheScope('key', key)).toBe('key:key_1');
    expect(cacheScope('team', key)).toBe('team:search');
  });

  it('by default one team never gets an answer cached for another; keys of one team share', () => {
    const mode = GatelogConfig.parse({}).cache.scope;
    const red = { id: 'key_r', team: 'red' } as VirtualKey;
    const red2 = { id: 'key_r2', team: 'red' } as VirtualKey;
    const blue = { id: 'key_b', team: 'blue' } as VirtualKey;
    expect(k(body, cacheScope(mode, red))).not.toBe(k(body, cacheScope(mode, blue)));
    expect(k(body, cacheScope(mode, red))).toBe(k(body, cacheScope(mode, red2)));
  });
});

describe('isCacheable', () => {
  it.each<[Record<string, unknown>, boolean]>([
    [{}, true],
    [{ temperature: 0 }, true],
    [{ temperature: null }, true],
    [{ temperature: 0.7 }, false],
    [{ temperature: 0, n: 2 }, false],
    [{ n: 1 }, true],
  ])('%j → %s', (b, want) => {
    expect(isCacheable(b)).toBe(want);
  });
  it('allowSampling admits temperature > 0 but never n > 1', () => {
    expect(isCacheable({ temperature: 1 }, { allowSampling: true })).toBe(true);
    expect(isCacheable({ n: 3 }, { allowSampling: true })).toBe(false);
  });
});

describe('decideCache', () => {
  type H = Record<string, string>;
  const cases: [string, H, boolean, Record<string, unknown>, 'on' | 'off' | 'refresh'][] = [
    ['alias on, deterministic', {}, true, {}, 'on'],
    ['alias off', {}, false, {}, 'off'],
    ['alias on, sampled', {}, true, { temperature: 0.5 }, 'off'],
    ['header on overrides alias off', { 'x-gatelog-cache': 'on' }, false, {}, 'on'],
    ['header on opts a sampled request in', { 'x-gatelog-cache': ' ON ' }, false, { temperature: 1 }, 'on'],
    ['header off', { 'x-gatelog-cache': 'off' }, true, {}, 'off'],
    ['header refresh', { 'x-gatelog-cache': 'refresh' }, false, {}, 'refresh'],
    ['no-cache means refresh', { 'cache-control': 'no-cache' }, true, {}, 'refresh'],
    ['no-store means off', { 'cache-control': 'max-age=0, no-store' }, true, {}, 'off'],
    ['stricter wins: on + no-cache', { 'x-gatelog-cache': 'on', 'cache-control': 'no-cache' }, true, {}, 'refresh'],
    ['stricter wins: off + no-cache', { 'x-gatelog-cache': 'off', 'cache-control': 'no-cache' }, true, {}, 'off'],
    ['n > 1 never', { 'x-gatelog-cache': 'on' }, true, { n: 2 }, 'off'],
    ['Helicone-Cache-Enabled: true overrides alias off', { 'helicone-cache-enabled': 'True' }, false, {}, 'on'],
    ['Helicone-Cache-Enabled: false overrides alias on', { 'helicone-cache-enabled': 'false' }, true, {}, 'off'],
    ['Helicone header of another value is ignored', { 'helicone-cache-enabled': 'maybe' }, false, {}, 'off'],
    ['Portkey force refresh', { 'x-portkey-cache-force-refresh': 'true' }, true, {}, 'refresh'],
    ['x-gatelog-cache wins over Helicone\'s', { 'x-gatelog-cache': 'off', 'helicone-cache-enabled': 'true' }, false, {}, 'off'],
    ['no-store still wins over Helicone on', { 'helicone-cache-enabled': 'true', 'cache-control': 'no-store' }, true, {}, 'off'],
  ];
  it.each(cases)('%s', (_name, headers, aliasEnabled, b, mode) => {
    const r = decideCache({ headers, aliasEnabled, body: b });
    if (!r.ok) throw new Error(r.refusal.message);
    expect(r.value.mode).toBe(mode);
    expect(r.value.lookup).toBe(mode === 'on');
    expect(r.value.store).toBe(mode !== 'off');
    expect(r.value.reason).not.toBe('');
  });

  it('refuses an unknown header value with 400 without echoing it', () => {
    const r = decideCache({ headers: { 'x-gatelog-cache': 'gl-secretish' }, aliasEnabled: true, body: {} });
    expect(r).toMatchObject({ ok: false, refusal: { status: 400, code: 'invalid_cache_header' } });
    if (!r.ok) expect(r.refusal.message).not.toContain('secretish');
  });
});

import { describe, expect, it } from 'vitest';
import { createAuthCheck, createCallerAuth, presentedKey } from './auth.ts';
import { ProxyError } from './errors.ts';
import { createKey, generateKeySecret, type VirtualKey } from './governance/keys.ts';
import { KeyRing } from './governance/key-ring.ts';

describe('master key check', () => {
  it('is absent without a master key', () => {
    expect(createAuthCheck(undefined)).toBeNull();
    expect(createAuthCheck('')).toBeNull();
  });

  it('accepts Bearer or x-api-key, rejects anything else with 401 invalid_api_key', () => {
    const check = createAuthCheck('k-123')!;
    expect(check({ authorization: 'Bearer k-123' })).toBeNull();
    expect(check({ authorization: 'bearer k-123' })).toBeNull();
    expect(check({ 'x-api-key': 'k-123' })).toBeNull();
    for (const h of [{}, { authorization: 'Bearer k-1234' }, { authorization: 'Basic k-123' }, { 'x-api-key': 'k-12' }]) {
      const e = check(h);
      expect(e).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'authentication_error' });
      expect(e!.message).not.toContain('k-12');
    }
  });

  it('extracts the presented key', () => {
    expect(presentedKey({ authorization: 'Bearer  abc ' })).toBe('abc');
    expect(presentedKey({ 'x-api-key': 'xyz' })).toBe('xyz');
    expect(presentedKey({})).toBeUndefined();
  });
});

describe('caller auth (master key or virtual key)', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const mk = (secret: string, over: Partial<VirtualKey> = {}): VirtualKey => {
    const r = createKey({ name: 'k' }, { now: now - 1000, actor: 'test', secret });
    if (!r.ok) throw new Error(r.message);
    return { ...r.value.key, ...over };
  };
  const live = generateKeySecret();
  const revoked = generateKeySecret();
  const ring = new KeyRing();
  ring.replace([mk(live), mk(revoked, { revoked: true })], now);

  it('tells master, virtual key and refusals apart, never echoing the key', () => {
    const a = createCallerAuth('master-123', ring, () => now);
    expect(a.identify({ authorization: 'Bearer master-123' }, now)).toEqual({ kind: 'master' });
    expect(a.identify({ 'x-api-key': live }, now)).toMatchObject({ kind: 'key', key: { name: 'k' } });
    const cases: [Record<string, string>, string][] = [
      [{}, 'invalid_api_key'],
      [{ authorization: `Bearer ${revoked}` }, 'key_revoked'],
      [{ authorization: live }, 'invalid_api_key'],
      [{ authorization: `Basic ${live}` }, 'invalid_api_key'],
      [{ authorization: "Bearer ' OR 1=1 --" }, 'invalid_api_key'],
      [{ authorization: `Bearer gl-${'x'.repeat(43)}` }, 'invalid_api_key'],
    ];
    for (const [h, code] of cases) {
      const e = a.identify(h, now);
      expect(e).toBeInstanceOf(ProxyError);
      expect(e).toMatchObject({ status: 401, code, type: 'authentication_error' });
      expect((e as ProxyError).message).not.toContain(live.slice(3));
    }
  });

  it('remembers the caller per request for the handler', () => {
    const a = createCallerAuth('master-123', ring, () => now);
    const h = { authorization: `Bearer ${live}` };
    expect(a.check(h)).toBeNull();
    expect(a.callerOf(h)).toMatchObject({ kind: 'key' });
    expect(a.callerOf({})).toBeUndefined();
  });

  it('without a master key the proxy is open, but a revoked key is still refused', () => {
    const a = createCallerAuth(undefined, ring, () => now);
    expect(a.identify({}, now)).toEqual({ kind: 'open' });
    expect(a.identify({ authorization: 'Bearer anything' }, now)).toEqual({ kind: 'open' });
    expect(a.identify({ authorization: `Bearer ${live}` }, now)).toMatchObject({ kind: 'key' });
    expect(a.identify({ authorization: `Bearer ${revoked}` }, now)).toMatchObject({ status: 401, code: 'key_revoked' });
  });
});

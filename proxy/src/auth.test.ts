import { describe, expect, it } from 'vitest';
import { createAuthCheck, presentedKey } from './auth.ts';

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

import { describe, expect, it } from 'vitest';
import { createHostCheck, isHostPattern } from './allowed-hosts.ts';

describe('createHostCheck', () => {
  it('answers only loopback names when open, any port', () => {
    const check = createHostCheck(undefined, true)!;
    for (const ok of ['localhost', 'localhost:4000', 'LocalHost:1', 'localhost.:4000', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:4000']) expect(check(ok), ok).toBe(true);
    for (const bad of [undefined, '', 'evil.example', 'evil.example:4000', 'localhost.evil.example', '127.0.0.1.nip.io', '127.0.0.2', '[::2]:4000', 'localhost:abc', '[::1]x', 'localhost:4000:1', '0.0.0.0:4000']) {
      expect(check(bad), String(bad)).toBe(false);
    }
  });

  it('allows any host with a master key unless configured', () => {
    expect(createHostCheck(undefined, false)).toBeNull();
    expect(createHostCheck(['*'], true)).toBeNull();
    const check = createHostCheck(['gatelog.corp', '*.example.com:443', '::1'], false)!;
    expect(check('gatelog.corp:8080')).toBe(true);
    expect(check('ui.example.com:443')).toBe(true);
    expect(check('ui.example.com')).toBe(false);
    expect(check('example.com:443')).toBe(false);
    expect(check('[::1]:9')).toBe(true);
    expect(check('localhost')).toBe(false);
  });

  it('answers the same for a host asked again, allowed or not, in any order', () => {
    const check = createHostCheck(['gatelog.corp'], false)!;
    for (let i = 0; i < 3; i++) {
      expect(check('gatelog.corp:4000')).toBe(true);
      expect(check('evil.example:4000')).toBe(false);
      expect(check('gatelog.corp:4000')).toBe(true);
      expect(check('evil.example:4000')).toBe(false);
      expect(check('gatelog.corp.evil.example')).toBe(false);
    }
  });

  it('validates config entries', () => {
    for (const ok of ['*', 'a.b', 'a.b:1', '*.a.b', '[::1]:4000', '::1']) expect(isHostPattern(ok), ok).toBe(true);
    for (const bad of ['a:b', '[::1', '[::1]:x']) expect(isHostPattern(bad), bad).toBe(false);
  });
});

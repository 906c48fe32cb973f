import { describe, expect, it } from 'vitest';
import { ProxyError } from '../errors.ts';
import { readRouteOptions } from './overrides.ts';

const defaults = { retries: 2, totalMs: 60_000, fallbacks: true, attemptMs: 0, attemptMinMs: 1000 };

function rejects(h: Record<string, string>): ProxyError {
  try {
    readRouteOptions(h, defaults);
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyError);
    return err as ProxyError;
  }
  throw new Error('expected a 400');
}

describe('route overrides by header', () => {
  it('returns the defaults object itself when no header is set', () => {
    expect(readRouteOptions({ 'content-type': 'application/json' }, defaults)).toBe(defaults);
  });

  it('applies retries, timeout (only shortening) and fallbacks', () => {
    expect(readRouteOptions({ 'x-gatelog-retries': '0', 'x-gatelog-timeout-ms': '1500', 'x-gatelog-fallbacks': 'OFF' }, defaults)).toEqual({ ...defaults, retries: 0, totalMs: 1500, fallbacks: false });
    expect(readRouteOptions({ 'x-gatelog-attempt-timeout-ms': ' 2500 ' }, defaults).attemptMs).toBe(2500);
    expect(readRouteOptions({ 'x-gatelog-timeout-ms': '999999' }, defaults).totalMs).toBe(60_000);
    expect(defaults.retries).toBe(2);
  });

  it.each([
    ['x-gatelog-retries', '-1'],
    ['x-gatelog-retries', '11'],
    ['x-gatelog-retries', 'two'],
    ['x-gatelog-timeout-ms', '0'],
    ['x-gatelog-timeout-ms', '1e3'],
    ['x-gatelog-fallbacks', 'maybe'],
    ['x-gatelog-attempt-timeout-ms', '0'],
    ['x-gatelog-attempt-timeout-ms', '-5'],
    ['x-gatelog-attempt-timeout-ms', '2.5'],
    ['x-gatelog-attempt-timeout-ms', 'soon'],
    ['x-gatelog-attempt-timeout-ms', '12345678901'],
  ])('400 for %s: %s', (name, value) => {
    const e = rejects({ [name]: value });
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_header');
    expect(e.param).toBe(name);
  });
});

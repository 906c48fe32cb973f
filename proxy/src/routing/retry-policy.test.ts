import { describe, expect, it } from 'vitest';
import { backoffMs, isRetryableClass, isRetryableStatus, retryAfterMs } from './retry-policy.ts';

describe('retry policy', () => {
  it.each([429, 500, 502, 503, 504, 529])('retries status %i', (s) => expect(isRetryableStatus(s)).toBe(true));
  it.each([200, 400, 401, 403, 404, 413, 422])('never retries status %i', (s) => expect(isRetryableStatus(s)).toBe(false));

  it('retries network failures and timeouts, not client aborts', () => {
    expect(isRetryableClass('upstream_unavailable')).toBe(true);
    expect(isRetryableClass('upstream_timeout')).toBe(true);
    expect(isRetryableClass('client_aborted')).toBe(false);
  });

  it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms', () => {
    const wall = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': '2' }, wall)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0.5' }, wall)).toBe(500);
    expect(retryAfterMs({ 'retry-after': new Date(wall + 3000).toUTCString() }, wall)).toBe(3000);
    expect(retryAfterMs({ 'retry-after': new Date(wall - 3000).toUTCString() }, wall)).toBe(0);
    expect(retryAfterMs({ 'retry-after-ms': '150', 'retry-after': '9' }, wall)).toBe(150);
    expect(retryAfterMs({ 'retry-after': 'soon' }, wall)).toBeNull();
    expect(retryAfterMs({}, wall)).toBeNull();
  });

  it('backs off exponentially with bounded jitter', () => {
    const b = { base_ms: 100, max_ms: 1000 };
    expect(backoffMs(1, b, () => 0)).toBe(50);
    expect(backoffMs(1, b, () => 1)).toBe(100);
    expect(backoffMs(3, b, () => 1)).toBe(400);
    expect(backoffMs(10, b, () => 1)).toBe(1000);
    expect(backoffMs(10, b, () => 0)).toBe(500);
  });
});

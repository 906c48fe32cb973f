import { describe, expect, it } from 'vitest';
import { MemoryBackend, withFallback, type CounterBackend } from './backend.ts';
import { RateLimiter, formatRateDuration, keyRateLimits, rateLimitHeaders, retryAfterSeconds, tightest, type RateLimits } from './rate-limit.ts';

const T0 = 1_800_000_000_000;
const limits = (o: Partial<RateLimits>): RateLimits => ({ rpm: null, tpm: null, maxParallel: null, ...o });

describe('formatRateDuration', () => {
  it.each([
    [0, '0s'],
    [20, '20ms'],
    [0.4, '1ms'],
    [1000, '1s'],
    [8640, '8.64s'],
    [59_999, '59.999s'],
    [360_000, '6m0s'],
    [61_500, '1m1.5s'],
    [3_723_000, '1h2m3s'],
  ])('%d ms → %s', (ms, s) => {
    expect(formatRateDuration(ms)).toBe(s);
  });
  it.each([[1, 1], [1000, 1], [1001, 2], [36_000, 36]])('retryAfterSeconds(%d) = %d', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

describe('RateLimiter RPM', () => {
  it('admits rpm requests, then refuses with Retry-After and OpenAI headers', async () => {
    const rl = new RateLimiter({ backend: new MemoryBackend() });
    const l = limits({ rpm: 3 });
    const heads: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await rl.acquire('k', l, 0, T0);
      if (!r.ok) throw new Error('refused');
      heads.push(rateLimitHeaders(r.states));
      await rl.settle(r.permit, 0, T0);
    }
    expect(heads.map((h) => h['x-ratelimit-remaining-requests'])).toEqual(['2', '1', '0']);
    expect(heads[2]).toEqual({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
    const r = await rl.acquire('k', l, 0, T0 + 5000);
    expect(r).toMatchObject({ ok: false, refusal: { status: 429, type: 'requests', code: 'rate_limit_exceeded', retryAfterSeconds: 15 } });
    if (!r.ok) {
      expect(r.refusal.message).toMatch(/3 requests per minute/);
      expect(r.refusal.headers?.['x-ratelimit-remaining-requests']).toBe('0');
    }
    expect((await rl.acquire('k', l, 0, T0 + 20_000)).ok).toBe(true);
    // Another key has its own budget of requests.
    expect((await rl.acquire('other', l, 0, T0 + 5000)).ok).toBe(true);
  });
});

describe('RateLimiter TPM', () => {
  it('reserves the estimate, settles the actual count, and refuses when the estimate does not fit', async () => {
    const rl = new RateLimiter({ backend: new MemoryBackend() });
    const l = limits({ rpm: 100, tpm: 1000 });
    const a = await rl.acquire('k', l, 900, T0);
    if (!a.ok) throw new Error('refused');
    expect(rateLimitHeaders(a.states)['x-ratelimit-remaining-tokens']).toBe('100');
    expect(rateLimitHeaders(a.states)['x-ratelimit-reset-tokens']).toBe('54s');
    const b = await rl.acquire('k', l, 200, T0);
    expect(b).toMatchObject({ ok: false, refusal: { type: 'tokens', code: 'rate_limit_exceeded', retryAfterSeconds: 6 } });
    // The call only used 300 tokens: 600 come back.
    await rl.settle(a.permit, 300, T0);
    const c = await rl.acquire('k', l, 200, T0);
    if (!c.ok) throw new Error('refused');
    expect(rateLimitHeaders(c.states)).toMatchObject({ 'x-ratelimit-remaining-tokens': '500', 'x-ratelimit-remaining-requests': '98' });
  });

  it('under-estimates are charged after the fact', async () => {
    const rl = new RateLimiter({ backend: new MemoryBackend() });
    const l = limits({ tpm: 1000 });
    const a = await rl.acquire('k', l, 10, T0);
    if (!a.ok) throw new Error('refused');
    await rl.settle(a.permit, 1000, T0);
    expect(await rl.acquire('k', l, 1, T0)).toMatchObject({ ok: false, refusal: { retryAfterSeconds: 1 } });
  });

  it('a request larger than the whole limit is refused without Retry-After', async () => {
    const rl = new RateLimiter({ backend: new MemoryBackend() });
    const r = await rl.acquire('k', limits({ tpm: 1000 }), 1001, T0);
    expect(r).toMatchObject({ ok: false, refusal: { status: 429, code: 'request_too_large' } });
    if (!r.ok) expect(r.refusal.retryAfterSeconds).toBeUndefined();
  });

  it('a TPM refusal does not consume an RPM unit', async () => {
    const rl = new RateLimiter({ backend: new MemoryBackend() });
    const l = limits({ rpm: 2, tpm: 100 });
    expect((await rl.acquire('k', l, 100, T0)).ok).toBe(true);
    expect((await rl.acquire('k', l, 50, T0)).ok).toBe(false);
    // The refused call took no request unit: the second of two is still available.
    expect((await rl.acquire('k', l, 0, T0)).ok).toBe(true);
    expect(await rl.acquire('k', l, 0, T0)).toMatchObject({ ok: false, refusal: { type: 'requests' } });
  });
});

describe('RateLimiter max parallel', () => {
  it('holds at most maxParallel in flight, under concurrency, and frees slots on settle', async () => {
    const backend = new MemoryBackend();
    const rl = new RateLimiter({ backend });
    const l = limits({ maxParallel: 2 });
    const rs = await Promise.all(Array.from({ length: 10 }, () => rl.acquire('k', l, 0, T0)));
    const ok = rs.filter((r) => r.ok);
    expect(ok).toHaveLength(2);
    expect(rs.find((r) => !r.ok)).toMatchObject({ refusal: { status: 429, code: 'parallel_limit_exceeded', retryAfterSeconds: 1 } });
    for (const r of ok) if (r.ok) await rl.settle(r.permit, 0, T0);
    for (const r of ok) if (r.ok) await rl.settle(r.permit, 0, T0); // idempotent
    expect(await backend.get(['gl:rl:par:k'])).toEqual([0]);
    expect((await rl.acquire('k', l, 0, T0)).ok).toBe(true);
  });

  it('a rate refusal or a failing limiter gives the parallel slot back', async () => {
    const backend = new MemoryBackend();
    const rl = new RateLimiter({ backend });
    const l = limits({ maxParallel: 1, rpm: 1 });
    const a = await rl.acquire('k', l, 0, T0);
    if (!a.ok) throw new Error('refused');
    await rl.settle(a.permit, 0, T0);
    expect((await rl.acquire('k', l, 0, T0)).ok).toBe(false);
    expect(await backend.get(['gl:rl:par:k'])).toEqual([0]);

    const broken: CounterBackend = { ...backend, kind: 'broken', reserve: (e) => backend.reserve(e), add: (k, d) => backend.add(k, d), get: (k) => backend.get(k), rateAdjust: (e, n) => backend.rateAdjust(e, n), rateAcquire: () => Promise.reject(new Error('down')) };
    await expect(new RateLimiter({ backend: broken }).acquire('k2', l, 0, T0)).rejects.toThrow('down');
    expect(await backend.get(['gl:rl:par:k2'])).toEqual([0]);
  });
});

describe('RateLimiter max parallel on a shared backend that is down', () => {
  const down = (): CounterBackend => {
    const boom = (): Promise<never> => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    return { kind: 'down', reserve: boom, add: boom, get: boom, rateAcquire: boom, rateAdjust: boom };
  };

  it('open: slots are taken and given back on the local counters', async () => {
    const local = new MemoryBackend();
    const rl = new RateLimiter({ backend: withFallback(down(), local, { policy: 'open', onFailure: () => undefined, cooldownMs: 0, now: () => 0 }) });
    const a = await rl.acquire('k', limits({ maxParallel: 1 }), 0, T0);
    expect(a).toMatchObject({ ok: true, permit: { parallelVia: 'fallback' } });
    expect(await rl.acquire('k', limits({ maxParallel: 1 }), 0, T0)).toMatchObject({ ok: false, refusal: { code: 'parallel_limit_exceeded' } });
    if (a.ok) await rl.settle(a.permit, 0, T0);
    expect(await local.get(['gl:rl:par:k'])).toEqual([0]);
  });

  it('closed: refused with the coded error, nothing taken', async () => {
    const local = new MemoryBackend();
    const rl = new RateLimiter({ backend: withFallback(down(), local, { policy: 'closed', onFailure: () => undefined, cooldownMs: 0, now: () => 0 }) });
    await expect(rl.acquire('k', limits({ maxParallel: 1 }), 0, T0)).rejects.toMatchObject({ code: 'GATELOG_ERR_STATE_UNAVAILABLE' });
    expect(await local.get(['gl:rl:par:k'])).toEqual([0]);
  });

  it('a slot taken on the shared backend is never given back to the local counters', async () => {
    let up = true;
    const shared = new MemoryBackend();
    const flaky: CounterBackend = {
      kind: 'flaky',
      reserve: (e) => (up ? shared.reserve(e) : Promise.reject(new Error('down'))),
      add: (k, d) => (up ? shared.add(k, d) : Promise.reject(new Error('down'))),
      get: (k) => shared.get(k),
      rateAcquire: (e, n) => shared.rateAcquire(e, n),
      rateAdjust: (e, n) => shared.rateAdjust(e, n),
    };
    const local = new MemoryBackend();
    const rl = new RateLimiter({ backend: withFallback(flaky, local, { policy: 'open', onFailure: () => undefined, cooldownMs: 0, now: () => 0 }) });
    const a = await rl.acquire('k', limits({ maxParallel: 2 }), 0, T0);
    if (!a.ok) throw new Error('refused');
    expect(a.permit.parallelVia).toBe('primary');
    up = false;
    await expect(rl.settle(a.permit, 0, T0)).rejects.toMatchObject({ code: 'GATELOG_ERR_STATE_UNAVAILABLE' });
    expect([await shared.get(['gl:rl:par:k']), await local.get(['gl:rl:par:k'])]).toEqual([[1], [0]]);
  });
});

describe('helpers', () => {
  it('no limits: no headers, always admitted', async () => {
    const r = await new RateLimiter({ backend: new MemoryBackend() }).acquire('k', limits({}), 1e9, T0);
    if (!r.ok) throw new Error('refused');
    expect(rateLimitHeaders(r.states)).toEqual({});
    expect(rateLimitHeaders({})).toEqual({});
  });
  it('keyRateLimits maps key fields', () => {
    expect(keyRateLimits({ rpm: 1, tpm: 2, max_parallel: 3 } as Parameters<typeof keyRateLimits>[0])).toEqual({ rpm: 1, tpm: 2, maxParallel: 3 });
  });
});

describe('tightest', () => {
  const s = (limit: number, remaining: number, resetMs: number) => ({ limit, remaining, resetMs });
  it('per dimension, the fewest left; of equals the slower to refill; a dimension only one limits is that one', () => {
    const user = { rpm: s(2, 1, 30_000), tpm: s(1000, 900, 6_000) };
    const key = { rpm: s(6, 1, 50_000) };
    const team = { rpm: s(100, 40, 36_000), tpm: s(5000, 300, 56_000) };
    expect(tightest([user, key, team])).toEqual({ rpm: key.rpm, tpm: team.tpm });
    expect(tightest([user])).toEqual(user);
    expect(tightest([key])).toEqual({ rpm: key.rpm, tpm: undefined });
    expect(rateLimitHeaders(tightest([]))).toEqual({});
  });
});

import { describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError, MemoryBackend, gcraState, withFallback, type CounterBackend, type RateEntry } from './backend.ts';

describe('MemoryBackend.reserve', () => {
  it('adds to every key when all fit, and to none when one does not', async () => {
    const b = new MemoryBackend();
    expect(await b.reserve([{ key: 'a', amount: 3, limit: 5 }, { key: 'b', amount: 1, limit: 1 }])).toEqual({ ok: true, values: [3, 1] });
    const refused = await b.reserve([{ key: 'a', amount: 1, limit: 5 }, { key: 'b', amount: 1, limit: 1 }]);
    expect(refused).toEqual({ ok: false, failed: 1, values: [3, 1] });
    expect(await b.get(['a', 'b', 'c'])).toEqual([3, 1, 0]);
  });

  it('Infinity means no limit; add floors at 0', async () => {
    const b = new MemoryBackend();
    expect((await b.reserve([{ key: 'x', amount: 1e12, limit: Infinity }])).ok).toBe(true);
    expect(await b.add('x', -2e12)).toBe(0);
    expect(await b.add('y', 5)).toBe(5);
  });
});

describe('GCRA', () => {
  const rpm = (cost = 1): RateEntry => ({ key: 'k:rpm', cost, limit: 60, windowMs: 60_000 });

  it('admits a full window as a burst, then one unit per interval', async () => {
    const b = new MemoryBackend();
    const t0 = 1_000_000;
    for (let i = 0; i < 60; i++) {
      const r = await b.rateAcquire([rpm()], t0);
      expect(r.ok).toBe(true);
      expect(r.states[0]!.remaining).toBe(59 - i);
    }
    const refused = await b.rateAcquire([rpm()], t0);
    expect(refused).toMatchObject({ ok: false, failed: 0, retryAfterMs: 1000 });
    expect(refused.states[0]).toEqual({ limit: 60, remaining: 0, resetMs: 60_000 });
    expect((await b.rateAcquire([rpm()], t0 + 999)).ok).toBe(false);
    expect((await b.rateAcquire([rpm()], t0 + 1000)).ok).toBe(true);
  });

  it('is all-or-none across entries (a TPM refusal does not consume RPM)', async () => {
    const b = new MemoryBackend();
    const tpm: RateEntry = { key: 'k:tpm', cost: 800, limit: 1000, windowMs: 60_000 };
    expect((await b.rateAcquire([rpm(), tpm], 0)).ok).toBe(true);
    const r = await b.rateAcquire([rpm(), tpm], 0);
    expect(r).toMatchObject({ ok: false, failed: 1 });
    expect(r.ok ? 0 : r.retryAfterMs).toBeCloseTo(36_000, 6); // 600 of 800 tokens must drain
    expect(r.states[0]!.remaining).toBe(59);
  });

  it('never admits a cost above the limit (retryAfter null)', async () => {
    const r = await new MemoryBackend().rateAcquire([{ key: 't', cost: 1001, limit: 1000, windowMs: 60_000 }], 0);
    expect(r).toMatchObject({ ok: false, retryAfterMs: null });
  });

  it('rateAdjust gives units back or charges more, never below "now"', async () => {
    const b = new MemoryBackend();
    const e: RateEntry = { key: 't', cost: 500, limit: 1000, windowMs: 60_000 };
    await b.rateAcquire([e], 0);
    expect(await b.rateAdjust({ ...e, cost: -400 }, 0)).toEqual({ limit: 1000, remaining: 900, resetMs: 6000 });
    expect(await b.rateAdjust({ ...e, cost: -10_000 }, 0)).toEqual({ limit: 1000, remaining: 1000, resetMs: 0 });
    // Over-use settled after the fact blocks even zero-cost calls until it drains.
    await b.rateAdjust({ ...e, cost: 1500 }, 0);
    expect(await b.rateAcquire([{ ...e, cost: 0 }], 0)).toMatchObject({ ok: false, retryAfterMs: 30_000 });
    expect((await b.rateAcquire([{ ...e, cost: 0 }], 30_000)).ok).toBe(true);
  });

  it('gcraState counts remaining units exactly', () => {
    const e: RateEntry = { key: 'x', cost: 1, limit: 3, windowMs: 1000 };
    // interval 333.33ms: two units used → 1 left despite float division.
    expect(gcraState(0 + (2 * 1000) / 3, e, 0).remaining).toBe(1);
    expect(gcraState(0, e, 50).remaining).toBe(3);
  });
});

function failing(): CounterBackend {
  const boom = (): Promise<never> => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  return { kind: 'down', reserve: boom, add: boom, get: boom, rateAcquire: boom, rateAdjust: boom };
}

describe('withFallback', () => {
  it('fail-open: serves from local counters, reports each failure, tags results', async () => {
    const onFailure = vi.fn();
    const local = new MemoryBackend();
    const b = withFallback(failing(), local, { policy: 'open', onFailure, cooldownMs: 5000, now: () => 0 });
    const r = await b.reserve([{ key: 'a', amount: 1, limit: 1 }]);
    expect(r).toEqual({ ok: true, values: [1], via: 'fallback' });
    expect(onFailure).toHaveBeenCalledWith(expect.any(Error), 'reserve');
    expect(await b.add('a', -1, { via: 'fallback' })).toBe(0);
    expect(await local.get(['a'])).toEqual([0]);
  });

  it('fail-closed: throws a coded error', async () => {
    const b = withFallback(failing(), new MemoryBackend(), { policy: 'closed', onFailure: () => undefined, cooldownMs: 0, now: () => 0 });
    await expect(b.rateAcquire([{ key: 'k', cost: 1, limit: 1, windowMs: 1000 }], 0)).rejects.toMatchObject({ code: 'GATELOG_ERR_STATE_UNAVAILABLE' });
  });

  it('skips the primary during the cooldown and goes back to it afterwards', async () => {
    let now = 0;
    let up = false;
    const primary = new MemoryBackend();
    const flaky: CounterBackend = {
      kind: 'flaky',
      reserve: (e) => (up ? primary.reserve(e) : Promise.reject(new Error('down'))),
      add: (k, d) => primary.add(k, d),
      get: (k) => primary.get(k),
      rateAcquire: (e, n) => primary.rateAcquire(e, n),
      rateAdjust: (e, n) => primary.rateAdjust(e, n),
    };
    const onFailure = vi.fn();
    const b = withFallback(flaky, new MemoryBackend(), { policy: 'open', onFailure, cooldownMs: 1000, now: () => now });
    expect((await b.reserve([{ key: 'a', amount: 1, limit: 9 }])).via).toBe('fallback');
    up = true;
    now = 999;
    expect((await b.reserve([{ key: 'a', amount: 1, limit: 9 }])).via).toBe('fallback');
    now = 1000;
    expect((await b.reserve([{ key: 'a', amount: 1, limit: 9 }])).via).toBe('primary');
    expect(onFailure).toHaveBeenCalledTimes(1);
  });

  it('budget holds follow the backend that served the reservation; down, nothing is taken over', async () => {
    const local = new MemoryBackend();
    const b = withFallback(failing(), local, { policy: 'open', onFailure: () => undefined, cooldownMs: 0, now: () => 0 });
    const holds = b.holds!;
    expect(holds.journaled).toBe(false);
    const r = await holds.reserve([{ key: 'a', amount: 5, limit: 9 }]);
    expect(r).toMatchObject({ ok: true, via: 'fallback' });
    const cost = { id: 'c', counterKeys: ['a'], micro: 2, at: 0, until: Infinity, call: undefined };
    await holds.settle(['a'], 5, cost, { via: 'fallback' });
    expect(await local.get(['a'])).toEqual([2]);
    expect(await holds.lease(1000, 10)).toEqual({ adopted: [], more: false });
    await holds.giveBack([cost], { via: 'fallback' });
    expect(await local.get(['a'])).toEqual([0]);
    await expect(holds.giveBack([cost], { via: 'primary' })).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it('a settle routed to a failed primary throws instead of corrupting local counters', async () => {
    const local = new MemoryBackend();
    const b = withFallback(failing(), local, { policy: 'open', onFailure: () => undefined, cooldownMs: 0, now: () => 0 });
    await expect(b.add('a', -1, { via: 'primary' })).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});

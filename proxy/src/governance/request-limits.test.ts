import { describe, expect, it } from 'vitest';
import { MemoryBackend } from './backend.ts';
import { createKey, type VirtualKey } from './keys.ts';
import { RateLimiter } from './rate-limit.ts';
import { holdRequest } from './request-limits.ts';
import { teamPolicies } from './team-policy.ts';

const key = (fields: Record<string, unknown>): VirtualKey => {
  const r = createKey({ name: `k-${Math.random()}`, ...fields }, { now: 0, actor: 'master' });
  if (!r.ok) throw new Error(r.message);
  return r.value.key;
};

function gov() {
  const t = Date.UTC(2026, 11, 5);
  const teams = teamPolicies({ small: { period: 'monthly', max_parallel: 1 }, tokens: { period: 'monthly', tpm: 10 } });
  return { teams, limiter: new RateLimiter({ backend: new MemoryBackend() }), now: () => t };
}

describe('holdRequest (Files and Batches requests under rate limits)', () => {
  it('takes nothing where only tpm (or nothing) is set: no tokens to count', async () => {
    const g = gov();
    expect(await holdRequest(g, key({ tpm: 5 }))).toEqual({ ok: true, headers: {}, release: undefined });
    expect(await holdRequest(g, key({ team: 'tokens' }))).toEqual({ ok: true, headers: {}, release: undefined });
  });

  it('counts one request against rpm, with the key\'s headers and a 429 naming it', async () => {
    const g = gov();
    const k = key({ rpm: 1 });
    const a = await holdRequest(g, k);
    expect(a).toMatchObject({ ok: true, headers: { 'x-ratelimit-limit-requests': '1', 'x-ratelimit-remaining-requests': '0' } });
    const b = await holdRequest(g, k);
    expect(b).toMatchObject({ ok: false, refusal: { status: 429, code: 'rate_limit_exceeded', type: 'requests' } });
    if (!b.ok) expect(b.refusal.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it("gives the key's slot back when the team refuses, and the team's slot on release", async () => {
    const g = gov();
    const k1 = key({ team: 'small', max_parallel: 1 });
    const k2 = key({ team: 'small', max_parallel: 1 });
    const first = await holdRequest(g, k1);
    expect(first.ok).toBe(true);
    const refused = await holdRequest(g, k2);
    expect(refused).toMatchObject({ ok: false, refusal: { code: 'parallel_limit_exceeded' } });
    if (first.ok) await first.release?.();
    // k2's own slot was given back with the team's refusal: it gets both now.
    const again = await holdRequest(g, k2);
    expect(again.ok).toBe(true);
    if (again.ok) {
      await again.release?.();
      await again.release?.();
    }
    expect((await holdRequest(g, k1)).ok).toBe(true);
  });
});

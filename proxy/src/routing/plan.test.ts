import { describe, expect, it } from 'vitest';
import { DeploymentState } from './deployment-state.ts';
import { AttemptPlan, type AliasRoute, type AttemptFailure } from './plan.ts';
import { stubProvider } from './testing.ts';

const cd = { failures: 2, window_ms: 10_000, cooldown_ms: 10_000 };
const dep = (name: string): DeploymentState => new DeploymentState(stubProvider(name), `${name}-model`, cd);
const alias = (name: string, states: DeploymentState[], extra: Partial<AliasRoute> = {}): AliasRoute => ({
  name,
  strategy: 'weighted',
  candidates: states.map((state) => ({ state, weight: 1 })),
  fallbacks: [],
  contextFallbacks: [],
  ...extra,
});
const backoff = { base_ms: 100, max_ms: 1000 };
const opts = { retries: 2, totalMs: 5000, fallbacks: true };
const retryable: AttemptFailure = { retryable: true, contextWindow: false, retryAfterMs: null };
const fatal: AttemptFailure = { retryable: false, contextWindow: false, retryAfterMs: null };
const name = (s: { target: { state: DeploymentState } } | null): string | undefined => s?.target.state.provider.name;

describe('attempt plan', () => {
  it('tries the other deployment at once, then the same one after backoff, then the fallback alias', () => {
    const a = dep('a');
    const b = dep('b');
    const fb = alias('fb', [dep('f')]);
    const plan = new AttemptPlan(alias('main', [a, b], { fallbacks: [fb] }), opts, backoff, 0, () => 0);
    const first = plan.first.state.provider.name;
    const s1 = plan.next(retryable, 10);
    expect(name(s1)).not.toBe(first);
    expect(s1?.delayMs).toBe(0);
    const s2 = plan.next(retryable, 20);
    expect(name(s2)).toBe(name(s1));
    expect(s2?.delayMs).toBe(50);
    const s3 = plan.next(retryable, 200);
    expect(name(s3)).toBe('f');
    expect(s3?.target.alias).toBe('fb');
    expect(s3?.delayMs).toBe(0);
    // The fallback has its own retries; then nothing is left.
    expect(name(plan.next(retryable, 300))).toBe('f');
    expect(name(plan.next(retryable, 500))).toBe('f');
    expect(plan.next(retryable, 800)).toBeNull();
  });

  it('never retries a non-retryable failure, and fallbacks can be turned off', () => {
    const fb = alias('fb', [dep('f')]);
    expect(new AttemptPlan(alias('m', [dep('a')], { fallbacks: [fb] }), opts, backoff, 0, () => 0).next(fatal, 1)).toBeNull();
    const off = new AttemptPlan(alias('m', [dep('a')], { fallbacks: [fb] }), { ...opts, retries: 0, fallbacks: false }, backoff, 0, () => 0);
    expect(off.next(retryable, 1)).toBeNull();
  });

  it('honours Retry-After, but only within the deadline (then falls back or gives up)', () => {
    const plan = new AttemptPlan(alias('m', [dep('a')]), opts, backoff, 0, () => 0);
    expect(plan.next({ ...retryable, retryAfterMs: 1200 }, 0)?.delayMs).toBe(1200);
    expect(plan.next({ ...retryable, retryAfterMs: 60_000 }, 1300)).toBeNull();
    const fb = alias('fb', [dep('f')]);
    const withFb = new AttemptPlan(alias('m', [dep('a')], { fallbacks: [fb] }), opts, backoff, 0, () => 0);
    const s = withFb.next({ ...retryable, retryAfterMs: 60_000 }, 0);
    expect(name(s)).toBe('f');
    expect(s?.delayMs).toBe(0);
  });

  it('stops at the total deadline', () => {
    const plan = new AttemptPlan(alias('m', [dep('a'), dep('b')]), opts, backoff, 1000, () => 0);
    expect(plan.deadline).toBe(6000);
    expect(plan.next(retryable, 6000)).toBeNull();
  });

  it('context window errors go to context_window_fallbacks, once', () => {
    const big = alias('big', [dep('big')]);
    const plan = new AttemptPlan(alias('m', [dep('a')], { contextFallbacks: [big] }), opts, backoff, 0, () => 0);
    const s = plan.next({ retryable: false, contextWindow: true, retryAfterMs: null }, 1);
    expect(name(s)).toBe('big');
    expect(plan.next({ retryable: false, contextWindow: true, retryAfterMs: null }, 2)).toBeNull();
    expect(new AttemptPlan(alias('m', [dep('a')]), opts, backoff, 0, () => 0).next({ retryable: false, contextWindow: true, retryAfterMs: null }, 1)).toBeNull();
  });

  it('skips cooling deployments, and probes the soonest one when everything is cooling', () => {
    const a = dep('a');
    const b = dep('b');
    for (const s of [a, a, b, b]) {
      s.begin(0);
      s.fail(s === a ? 0 : 100, 'http_503');
    }
    const fb = alias('fb', [dep('f')]);
    expect(new AttemptPlan(alias('m', [a, b], { fallbacks: [fb] }), opts, backoff, 200, () => 0).first.state.provider.name).toBe('f');
    const plan = new AttemptPlan(alias('m', [b, a]), opts, backoff, 200, () => 0);
    expect(plan.first.state.provider.name).toBe('a');
  });
});

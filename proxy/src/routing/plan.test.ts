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
const opts = { retries: 2, totalMs: 5000, fallbacks: true, attemptMs: 0, attemptMinMs: 1000 };
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

  describe('attempt time limits', () => {
    const ttfb = 300_000;
    const fourSeconds = { ...opts, totalMs: 4000 };

    it('gives a first attempt half the deadline when one fallback remains, the fallback the rest', () => {
      const fb = alias('fb', [dep('f')]);
      const plan = new AttemptPlan(alias('m', [dep('a')], { fallbacks: [fb] }), fourSeconds, backoff, 0, () => 0);
      expect(plan.attemptsLeft(0)).toBe(2);
      expect(plan.limitFor(plan.first, 0, ttfb)).toMatchObject({ ttfbMs: 2000, deadlineBound: false });
      // It hung: no retry of the same deployment while a fallback can still answer.
      const s = plan.next({ ...retryable, errorClass: 'upstream_timeout' }, 2000);
      expect(name(s)).toBe('f');
      expect(s?.delayMs).toBe(0);
      expect(plan.limitFor(s!.target, 2000, ttfb)).toEqual({ ttfbMs: 2000, deadlineBound: true, what: 'the call deadline' });
    });

    it('shares among the untried deployments and later aliases, with a floor', () => {
      const fb = alias('fb', [dep('f')]);
      const plan = new AttemptPlan(alias('m', [dep('a'), dep('b'), dep('c')], { fallbacks: [fb] }), { ...opts, totalMs: 9000 }, backoff, 0, () => 0);
      expect(plan.attemptsLeft(0)).toBe(4);
      expect(plan.limitFor(plan.first, 0, ttfb).ttfbMs).toBe(2250);
      const few = new AttemptPlan(alias('m', [dep('a'), dep('b'), dep('c')], { fallbacks: [fb] }), { ...opts, retries: 1, totalMs: 9000 }, backoff, 0, () => 0);
      expect(few.attemptsLeft(0)).toBe(3);
      const floor = new AttemptPlan(alias('m', [dep('a'), dep('b'), dep('c')], { fallbacks: [fb] }), { ...opts, totalMs: 3000, attemptMinMs: 1500 }, backoff, 0, () => 0);
      expect(floor.limitFor(floor.first, 0, ttfb).ttfbMs).toBe(1500);
      // The per-try timeout stays the limit when it is shorter than the share.
      expect(plan.limitFor(plan.first, 0, 1000)).toMatchObject({ ttfbMs: 1000, what: 'the time-to-first-byte timeout' });
    });

    it('leaves a lone deployment the whole deadline (no share), and a hung one is retried', () => {
      const plan = new AttemptPlan(alias('m', [dep('a')]), fourSeconds, backoff, 0, () => 0);
      expect(plan.attemptsLeft(0)).toBe(1);
      expect(plan.limitFor(plan.first, 0, ttfb)).toMatchObject({ ttfbMs: 4000, deadlineBound: true });
      expect(name(plan.next({ ...retryable, errorClass: 'upstream_timeout' }, 10))).toBe('a');
      const off = new AttemptPlan(alias('m', [dep('a')], { fallbacks: [alias('fb', [dep('f')])] }), { ...fourSeconds, fallbacks: false }, backoff, 0, () => 0);
      expect(off.attemptsLeft(0)).toBe(1);
    });

    it('uses an explicit limit: header first, then the deployment (alias folded in), instead of the share', () => {
      const fb = alias('fb', [dep('f')]);
      const m = alias('m', [dep('a')], { fallbacks: [fb] });
      m.candidates = [{ ...m.candidates[0]!, attemptMs: 500 }];
      const plan = new AttemptPlan(m, fourSeconds, backoff, 0, () => 0);
      expect(plan.first.attemptMs).toBe(500);
      expect(plan.limitFor(plan.first, 0, ttfb)).toEqual({ ttfbMs: 500, deadlineBound: false, what: 'the attempt time limit' });
      const byHeader = new AttemptPlan(m, { ...fourSeconds, attemptMs: 3000 }, backoff, 0, () => 0);
      expect(byHeader.limitFor(byHeader.first, 0, ttfb).ttfbMs).toBe(3000);
      // Never past the deadline.
      expect(byHeader.limitFor(byHeader.first, 2000, ttfb)).toMatchObject({ ttfbMs: 2000, deadlineBound: true });
    });
  });
});

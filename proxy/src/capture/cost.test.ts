import { describe, expect, it } from 'vitest';
import { createPricer } from '@gatelog/core';
import { memoizeCost } from './cost.ts';
import type { Tokens } from './usage.ts';

const t = (input: number, output: number, cached = 0): Tokens => ({ input_tokens: input, output_tokens: output, cached_tokens: cached, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false });

describe('memoizeCost', () => {
  it('returns exactly what the pricer returns, calling it once per distinct input', () => {
    const real = createPricer([{ provider: 'p', model: 'm', input: 1, output: 2, cached_input: 0.5 }]);
    let calls = 0;
    const cost = memoizeCost((...args) => {
      calls++;
      return real(...args);
    });
    expect(cost('p', undefined, 'm', t(10, 5, 4))).toBe(real('p', undefined, 'm', { input_tokens: 10, output_tokens: 5, cache_read_tokens: 4 }));
    expect(cost('p', undefined, 'm', t(10, 5, 4))).toBe((6 + 4 * 0.5 + 10) / 1e6);
    expect(calls).toBe(1);
    expect(cost('p', undefined, 'm', t(10, 6, 4))).toBe((6 + 2 + 12) / 1e6);
    expect(calls).toBe(2);
    expect(cost('p', undefined, 'unknown-model-xyz', t(1, 1))).toBeNull();
    expect(cost('p', 'openai', 'gpt-4o-mini', t(1000, 1000))).toBe(real('p', 'openai', 'gpt-4o-mini', { input_tokens: 1000, output_tokens: 1000, cache_read_tokens: 0 }));
  });

  it('forgets after the TTL so time-dependent prices still apply', () => {
    let now = 0;
    let calls = 0;
    const cost = memoizeCost(() => ++calls, () => now);
    cost('p', undefined, 'm', t(1, 1));
    cost('p', undefined, 'm', t(1, 1));
    expect(calls).toBe(1);
    now = 61_000;
    cost('p', undefined, 'm', t(1, 1));
    expect(calls).toBe(2);
  });
});

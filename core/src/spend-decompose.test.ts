import { describe, expect, it } from 'vitest';
import { contributors, decompose, ZERO, type ModelAgg } from './spend-decompose.ts';

/** `calls` calls of `model` at `usdPerToken`, each with `inT`/`outT` tokens. */
function rows(model: string, calls: number, usdPerToken: number, inT = 100, outT = 50, over: Partial<ModelAgg> = {}): ModelAgg {
  return { ...ZERO, model, calls, billable: calls, inTokens: calls * inT, outTokens: calls * outT, cost: calls * (inT + outT) * usdPerToken, ...over };
}

const sum = (xs: { usd: number }[]): number => xs.reduce((s, x) => s + x.usd, 0);
const effect = (d: ReturnType<typeof decompose>, f: string): number => d.factors.find((x) => x.factor === f)?.usd ?? NaN;

describe('decompose', () => {
  it('puts a pure change in call volume on volume, against a baseline averaged per bucket', () => {
    // 4 baseline buckets of 10 calls each, then 30 calls.
    const d = decompose([rows('cheap', 40, 1e-6)], [rows('cheap', 30, 1e-6)], 4);
    expect(d.before.calls).toBe(10);
    expect(d.delta).toBeCloseTo(20 * 150e-6, 12);
    expect(d.factors[0]!.factor).toBe('volume');
    expect(effect(d, 'volume')).toBeCloseTo(d.delta, 12);
    expect(effect(d, 'model_mix')).toBeCloseTo(0, 12);
    expect(d.factors[0]!.share).toBeCloseTo(1, 9);
  });

  it('puts a move to a pricier model on model mix, not on price within a model', () => {
    const before = [rows('cheap', 20, 1e-6)];
    const after = [rows('cheap', 10, 1e-6), rows('pricey', 10, 20e-6)];
    const d = decompose(before, after);
    expect(d.delta).toBeGreaterThan(0);
    expect(d.factors[0]!.factor).toBe('model_mix');
    expect(effect(d, 'model_mix')).toBeCloseTo(d.delta, 12);
    expect(effect(d, 'model_price')).toBeCloseTo(0, 12);
    expect(effect(d, 'volume')).toBeCloseTo(0, 12);
  });

  it('splits tokens per call into input and output, and a price rise within a model', () => {
    const d = decompose([rows('m', 10, 1e-6, 100, 50)], [rows('m', 10, 1e-6, 100, 500)]);
    expect(d.factors[0]!.factor).toBe('output_tokens');
    expect(effect(d, 'output_tokens')).toBeCloseTo(d.delta, 12);
    expect(effect(d, 'input_tokens')).toBeCloseTo(0, 12);
    const r = decompose([rows('m', 10, 1e-6)], [rows('m', 10, 3e-6)]);
    expect(r.factors[0]!.factor).toBe('model_price');
    expect(effect(r, 'model_price')).toBeCloseTo(r.delta, 12);
  });

  it('is exact: the effects always add up to the change, whatever moved together', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 200; i++) {
      const side = (): ModelAgg[] => ['a', 'b', 'c'].filter(() => rnd() > 0.2).map((m) => {
        const calls = 1 + Math.floor(rnd() * 50);
        const hits = Math.floor(rnd() * calls * 0.5);
        return rows(m, calls, rnd() * 1e-5, 1 + rnd() * 500, 1 + rnd() * 500, { billable: calls - hits });
      });
      const d = decompose(side(), side(), 1 + Math.floor(rnd() * 5));
      expect(sum(d.factors)).toBeCloseTo(d.delta, 9);
    }
  });

  it('gives new traffic (no baseline) to volume, and more cache hits a negative cache effect', () => {
    const d = decompose([], [rows('m', 5, 1e-6)]);
    expect(d.factors[0]).toMatchObject({ factor: 'volume' });
    expect(effect(d, 'volume')).toBeCloseTo(d.delta, 12);
    // Same calls; half now served from the response cache (cost 0, no billable tokens).
    const c = decompose([rows('m', 20, 1e-6)], [{ ...rows('m', 10, 1e-6), calls: 20 }]);
    expect(c.factors[0]!.factor).toBe('cache');
    expect(effect(c, 'cache')).toBeCloseTo(c.delta, 12);
    expect(c.delta).toBeLessThan(0);
  });

  it('reports retries and errors as signals beside the factors', () => {
    const d = decompose([rows('m', 10, 1e-6)], [rows('m', 10, 1e-6, 100, 50, { retried: 5, retriedCost: 0.01, errors: 2 })]);
    const retries = d.signals.find((s) => s.signal === 'retries')!;
    expect(retries.rateBefore).toBe(0);
    expect(retries.rateAfter).toBe(0.5);
    expect(retries.usd).toBeCloseTo(0.01, 12);
    expect(d.signals.find((s) => s.signal === 'errors')!.rateAfter).toBe(0.2);
  });
});

describe('contributors', () => {
  it('ranks the values of a dimension by their share of the change and names what drove each', () => {
    const r = (value: string, side: 'before' | 'after', m: ModelAgg): ModelAgg & { value: string; side: 'before' | 'after' } => ({ ...m, value, side });
    const all = [
      r('alice', 'before', rows('cheap', 20, 1e-6)), r('alice', 'after', rows('cheap', 200, 1e-6)),
      r('bob', 'before', rows('cheap', 10, 1e-6)), r('bob', 'after', rows('pricey', 10, 20e-6)),
      r('carol', 'before', rows('cheap', 10, 1e-6)), r('carol', 'after', rows('cheap', 5, 1e-6)),
    ];
    const total = decompose(all.filter((x) => x.side === 'before'), all.filter((x) => x.side === 'after')).delta;
    const top = contributors(all, 1, total);
    expect(top.map((c) => c.value)).toEqual(['bob', 'alice', 'carol']);
    expect(top[0]!.driver).toBe('model_mix');
    expect(top[1]!.driver).toBe('volume');
    expect(top.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 9);
  });
});

// patches/@pydantic__genai-prices@0.1.8.patch remembers, per price object, which units a model's
// price has (and their checks), per provider which model a name matches, which provider a
// lookup finds, and per pair of units whether they overlap: work the library did again on every
// call (7–14 µs of the 8–14 a call cost with varying token counts; a name priced without a
// provider id, as OpenAI's own base URL is, scanned every provider's name rules on each call). These
// A unit of a model's price that the usage does not report (web searches, audio) is checked
// against the reported keys once per combination of positive keys, not on every call. These
// tests check the patch is installed and that every price it gives is the library's own, to the
// bit: a call given a deep copy of the provider (the `provider` option) holds objects neither
// cache has seen, so the library works everything out afresh for it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { calcPrice, findProvider, type PriceCalculationResult, type Usage } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';

const PROVIDERS = ['openai', 'anthropic', 'google', 'deepseek', 'azure', 'groq', 'mistral', 'x-ai', 'aws', 'cohere', 'together', 'fireworks', 'perplexity', 'openrouter'];

/** Deterministic usages: plain, cache reads, cache writes, audio, zero, large. */
function usages(seed: number): Usage[] {
  let x = seed;
  const next = (max: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % max;
  };
  const out: Usage[] = [{ input_tokens: 0, output_tokens: 0 }, { input_tokens: 1_000_000, output_tokens: 1_000_000 }];
  for (let i = 0; i < 6; i++) {
    const input = 1 + next(300_000);
    out.push(
      { input_tokens: input, output_tokens: next(20_000) },
      { input_tokens: input, output_tokens: next(5_000), cache_read_tokens: next(input) },
      { input_tokens: input, output_tokens: next(5_000), cache_write_tokens: next(Math.ceil(input / 2)), cache_read_tokens: next(Math.floor(input / 2)) },
      { input_tokens: input, output_tokens: next(5_000), input_audio_tokens: next(input), output_audio_tokens: 0 },
    );
  }
  return out;
}

/** The library's answer, or the error it throws, in a form to compare bit for bit. */
function outcome(f: () => PriceCalculationResult): unknown {
  try {
    const r = f();
    return r === null ? null : { model: r.model.id, provider: r.provider.id, input: r.input_price, output: r.output_price, total: r.total_price };
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

describe('genai-prices patch', () => {
  it('is installed: the dist file carries the two caches', () => {
    const require = createRequire(import.meta.url);
    const cjsEntry = require.resolve('@pydantic/genai-prices');
    const esm = readFileSync(cjsEntry.replace(/index\.cjs$/, 'index.js'), 'utf8');
    expect(esm).toContain('function gatelogPricedUnits(');
    expect(esm).toContain('function gatelogMatch(');
    expect(esm).toContain('function gatelogLeaves(');
    expect(esm).toContain('function gatelogFindProvider(');
    expect(esm).toContain('function gatelogOverlap(');
    expect(esm).toContain('function gatelogAbsentKey(');
  });

  it('prices every model of the main providers exactly as the uncached library does, cached calls included', () => {
    const at = new Date('2026-06-01T03:30:00Z'); // inside DeepSeek's off-peak window: time-of-day prices are exercised
    let compared = 0;
    let priced = 0;
    for (const providerId of PROVIDERS) {
      const provider = findProvider({ providerId });
      if (!provider) continue;
      provider.models.forEach((model, m) => {
        // A copy per model: what the caches hold for the data's own objects is checked against
        // what the library works out for objects it has never seen.
        const copy = structuredClone(provider);
        for (const usage of usages(m + 1)) {
          const fresh = outcome(() => calcPrice(usage, model.id, { provider: copy, timestamp: at }));
          // Twice through the caches: the first call fills them, the second reads them.
          expect(outcome(() => calcPrice(usage, model.id, { providerId, timestamp: at }))).toEqual(fresh);
          const again = outcome(() => calcPrice(usage, model.id, { providerId, timestamp: at }));
          expect(again).toEqual(fresh);
          if (again !== null && typeof again === 'object' && 'total' in again) {
            expect(Object.is((again as { total: number }).total, (fresh as { total: number }).total)).toBe(true);
            priced++;
          }
          compared++;
        }
      });
    }
    expect(compared).toBeGreaterThan(5_000);
    expect(priced).toBeGreaterThan(2_000);
  });

  it('finds a provider by the model name alone (no provider id) as the uncached lookup does, every time', () => {
    const usage = { input_tokens: 4321, output_tokens: 765, cache_read_tokens: 1000 };
    for (const providerId of ['openai', 'anthropic', 'google', 'deepseek', 'mistral']) {
      const provider = findProvider({ providerId });
      for (const model of provider?.models.slice(0, 8) ?? []) {
        const fresh = outcome(() => calcPrice(usage, model.id, { provider: structuredClone(provider!) }));
        const byName = [0, 1].map(() => outcome(() => calcPrice(usage, model.id)));
        // The name alone may match another provider first (its rules run in the data's order):
        // then both lookups agree with each other, and with that provider's own price.
        expect(byName[1]).toEqual(byName[0]);
        const found = byName[0] as { provider?: string } | null;
        if (found?.provider === providerId) expect(byName[0]).toEqual(fresh);
        else if (found?.provider) expect(outcome(() => calcPrice(usage, model.id, { provider: structuredClone(findProvider({ providerId: found.provider! })!) }))).toEqual(byName[0]);
      }
    }
    expect(calcPrice(usage, 'gpt-4o-mini')?.provider.id).toBe('openai');
    for (let i = 0; i < 2; i++) expect(calcPrice(usage, 'no-provider-has-this-model')).toBeNull();
  });

  it('remembers only passed checks of a unit the usage does not report: a positive descendant or a bad value is refused after them', () => {
    // gpt-audio prices input_audio_tokens; none of these usages reports it, so each call checks
    // the reported keys against it. The first call passes and is remembered; the others differ in
    // what is reported and must get the library's own answer, not the remembered pass.
    const price = (usage: Usage): unknown => outcome(() => calcPrice(usage, 'gpt-audio', { providerId: 'openai' }));
    const plain = { input_tokens: 1000, output_tokens: 100 };
    for (let i = 0; i < 2; i++) expect(price(plain)).toMatchObject({ total: 0.0035 });
    expect(price({ ...plain, cache_audio_read_tokens: 0 })).toMatchObject({ total: 0.0035 });
    for (let i = 0; i < 2; i++) {
      expect(price({ ...plain, cache_audio_read_tokens: 50 })).toEqual({ threw: 'Missing usage value for input_audio_tokens with positive reported descendant cache_audio_read_tokens' });
      expect(price({ ...plain, cache_audio_read_tokens: -1 })).toEqual({ threw: 'Invalid usage value for cache_audio_read_tokens: expected a finite non-negative number' });
    }
  });

  it('keeps names that match nothing unpriced, and the litellm "provider/model" form priced as the provider', () => {
    const usage = { input_tokens: 1234, output_tokens: 567 };
    for (let i = 0; i < 3; i++) expect(calcPrice(usage, `no-such-model-${i % 2}`, { providerId: 'openai' })).toBeNull();
    const direct = calcPrice(usage, 'gpt-4o', { providerId: 'openai' });
    expect(direct).not.toBeNull();
    for (let i = 0; i < 2; i++) expect(calcPrice(usage, 'openai/gpt-4o', { providerId: 'litellm' })?.total_price).toBe(direct?.total_price);
  });
});

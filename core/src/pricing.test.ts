// Each token kind at its own rate, from published prices written here (USD per million).
import { describe, expect, it } from 'vitest';
import { createPricer, priceVersion } from './pricing.ts';

const M = 1_000_000;
const close = (a: number | null, b: number): void => expect(a).toBeCloseTo(b, 9);

describe('createPricer', () => {
  const pricer = createPricer([]);

  it('Claude Sonnet 4.5: plain input, cache reads, 5-minute and 1-hour writes, output each at its rate', () => {
    // $3 input, $0.30 cache read, $3.75 5m write, $6 1h write, $15 output (anthropic.com/pricing)
    const usd = pricer('ant', 'anthropic', 'claude-sonnet-4-5', {
      input_tokens: 1000 + 20_000 + 5000 + 8000, cache_read_tokens: 20_000, cache_write_tokens: 13_000, cache_write_1h_tokens: 8000, output_tokens: 700,
    });
    close(usd, (1000 * 3 + 20_000 * 0.3 + 5000 * 3.75 + 8000 * 6 + 700 * 15) / M);
  });

  it('gpt-4o-mini: cached reads at half the input rate; reasoning is output', () => {
    close(pricer('oai', 'openai', 'gpt-4o-mini', { input_tokens: 3000, cache_read_tokens: 2048, output_tokens: 500 }), (952 * 0.15 + 2048 * 0.075 + 500 * 0.6) / M);
  });

  it('custom prices: a 1-hour write without its own rate costs 2× input (Anthropic multiplier); with one, that rate', () => {
    const p = createPricer([
      { provider: 'p', model: 'm', input: 2, output: 10, cached_input: 0.2, cache_write: 2.5 },
      { provider: 'p', model: 'n', input: 2, output: 10, cache_write: 2.5, cache_write_1h: 3 },
    ]);
    const u = { input_tokens: 100 + 300 + 600, cache_read_tokens: 300, cache_write_tokens: 600, cache_write_1h_tokens: 400, output_tokens: 50 };
    close(p('p', undefined, 'm', u), (100 * 2 + 300 * 0.2 + 200 * 2.5 + 400 * 4 + 50 * 10) / M);
    close(p('p', undefined, 'n', u), (100 * 2 + 300 * 2 + 200 * 2.5 + 400 * 3 + 50 * 10) / M);
  });

  it('unknown model is null, and usage genai-prices refuses does not make a known model unknown', () => {
    expect(pricer('x', 'openai', 'no-such-model-xyz', { input_tokens: 1, output_tokens: 1 })).toBeNull();
    expect(pricer('oai', 'openai', 'gpt-4o-mini', { input_tokens: 1, cache_read_tokens: 50, output_tokens: 1 })).toBeNull();
    expect(pricer('oai', 'openai', 'gpt-4o-mini', { input_tokens: 1000, output_tokens: 0 })).toBeGreaterThan(0);
  });

  it('names its price table: package version, plus a hash that changes with the custom prices', () => {
    expect(pricer.version).toMatch(/^genai-prices@\d+\.\d+\.\d+$/);
    const a = priceVersion([{ provider: 'p', model: 'm', input: 1, output: 2 }]);
    expect(a).toMatch(/^genai-prices@[\d.]+\+custom:[0-9a-f]{12}$/);
    expect(priceVersion([{ output: 2, input: 1, model: 'm', provider: 'p' }])).toBe(a);
    expect(priceVersion([{ provider: 'p', model: 'm', input: 1.5, output: 2 }])).not.toBe(a);
  });
});

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

describe('calls billed by a unit', () => {
  const pricer = createPricer([]);
  const none = { input_tokens: 0, output_tokens: 0 };

  it('whisper-1: $0.006 a minute of audio (genai-prices); Groq Whisper bills at least 10 s (the library\'s rule)', () => {
    close(pricer('oai', 'openai', 'whisper-1', none, { audio_seconds: 12.4 }), (12.4 / 60) * 0.006);
    close(pricer('oai', undefined, 'whisper-1', none, { audio_seconds: 90 }), 1.5 * 0.006);
    // whisper-large-v3-turbo: $0.04 an hour (console.groq.com/docs/model/whisper-large-v3-turbo)
    close(pricer('groq', 'groq', 'whisper-large-v3-turbo', none, { audio_seconds: 4 }), (10 / 3600) * 0.04);
  });

  it('tts-1 / tts-1-hd: $15 / $30 per million characters (built-in table)', () => {
    close(pricer('oai', 'openai', 'tts-1', none, { input_characters: 1200 }), (1200 * 15) / M);
    close(pricer('az', 'azure', 'tts-1-hd', none, { input_characters: 1200 }), (1200 * 30) / M);
  });

  it('DALL·E 3 by size and quality, OpenAI\'s defaults (1024x1024 standard) when the request names none', () => {
    close(pricer('oai', 'openai', 'dall-e-3', none, { images: 1 }), 0.04);
    close(pricer('oai', 'openai', 'dall-e-3', none, { images: 1, image_size: '1792x1024', image_quality: 'standard' }), 0.08);
    close(pricer('oai', 'openai', 'dall-e-3', none, { images: 1, image_quality: 'hd' }), 0.08);
    close(pricer('oai', 'openai', 'dall-e-3', none, { images: 2, image_size: '1024x1792', image_quality: 'hd' }), 0.24);
  });

  it('DALL·E 2 by size', () => {
    close(pricer('oai', 'openai', 'dall-e-2', none, { images: 3, image_size: '256x256' }), 0.048);
    close(pricer('oai', 'openai', 'dall-e-2', none, { images: 1, image_size: '512x512' }), 0.018);
    close(pricer('oai', 'openai', 'dall-e-2', none, { images: 2 }), 0.04);
  });

  it('gpt-image-1: image input tokens at input_image_mtok ($10), text input $5, output $40 (genai-prices)', () => {
    const usage = { input_tokens: 50 + 194, output_tokens: 4160 };
    close(pricer('oai', 'openai', 'gpt-image-1', usage, { input_image_tokens: 194, images: 1, image_size: '1024x1024', image_quality: 'high' }), (50 * 5 + 194 * 10 + 4160 * 40) / M);
    close(pricer('oai', 'openai', 'gpt-image-1-mini', usage, { input_image_tokens: 194, images: 1 }), (50 * 2 + 194 * 2.5 + 4160 * 8) / M);
  });

  it('null, never 0, when the unit is unknown or not reported', () => {
    expect(pricer('oai', 'openai', 'dall-e-3', none, { images: 1, image_size: '512x512' })).toBeNull();
    expect(pricer('oai', 'openai', 'dall-e-3', none, {})).toBeNull();
    expect(pricer('oai', 'openai', 'tts-1', none, { audio_seconds: 3 })).toBeNull();
    expect(pricer('oai', 'openai', 'whisper-1', none, {})).toBeNull();
    // gpt-4o-mini-tts is token-priced: its speech answer reports no tokens, so characters don't price it.
    expect(pricer('oai', 'openai', 'gpt-4o-mini-tts', none, { input_characters: 500 })).toBeNull();
    // OpenAI's rates are not a self-hosted server's.
    expect(pricer('local', 'groq', 'dall-e-3', none, { images: 1 })).toBeNull();
    expect(pricer('oai', 'openai', 'no-such-tts', none, { input_characters: 5 })).toBeNull();
  });

  it('custom unit rates price self-hosted models; a reported unit without a rate leaves the call unpriced', () => {
    const p = createPricer([
      { provider: 'local', model: 'whisper-local', audio_minute: 0.002 },
      { provider: 'local', model: 'piper', per_1m_characters: 4 },
      { provider: 'local', model: 'sd', image: { 'hd 1024x1024': 0.05, '1024x1024': 0.03, hd: 0.04, default: 0.02 } },
      { provider: 'local', model: 'flat', image: 0.01 },
      { provider: 'local', model: 'img-tokens', input: 5, output: 40, input_image: 10 },
      { provider: 'oai', model: 'dall-e-3', image: 0.5 },
    ]);
    close(p('local', undefined, 'whisper-local', none, { audio_seconds: 30 }), 0.001);
    close(p('local', undefined, 'piper', none, { input_characters: 250_000 }), 1);
    close(p('local', undefined, 'sd', none, { images: 1, image_size: '1024x1024', image_quality: 'hd' }), 0.05);
    close(p('local', undefined, 'sd', none, { images: 1, image_size: '1024x1024' }), 0.03);
    close(p('local', undefined, 'sd', none, { images: 1, image_size: '512x512', image_quality: 'hd' }), 0.04);
    close(p('local', undefined, 'sd', none, { images: 2, image_size: '512x512' }), 0.04);
    close(p('local', undefined, 'flat', none, { images: 3 }), 0.03);
    // A config entry comes before the built-in table.
    close(p('oai', 'openai', 'dall-e-3', none, { images: 1 }), 0.5);
    // Token rates, with image input tokens at their own; the image count has no rate: information only.
    close(p('local', undefined, 'img-tokens', { input_tokens: 300, output_tokens: 1000 }, { input_image_tokens: 100, images: 1 }), (200 * 5 + 100 * 10 + 1000 * 40) / M);
    expect(p('local', undefined, 'whisper-local', none, { input_characters: 9 })).toBeNull();
    expect(p('local', undefined, 'piper', { input_tokens: 10, output_tokens: 0 }, {})).toBeNull();
    close(p('local', undefined, 'sd', none, { images: 1, image_size: 'constructor' }), 0.02);
  });

  it('the price table\'s name changes with custom unit rates, whatever their keys\' order', () => {
    const a = priceVersion([{ provider: 'p', model: 'm', image: { hd: 0.08, '1024x1024': 0.04 } }]);
    expect(priceVersion([{ provider: 'p', model: 'm', image: { '1024x1024': 0.04, hd: 0.08 } }])).toBe(a);
    expect(priceVersion([{ provider: 'p', model: 'm', image: { hd: 0.12, '1024x1024': 0.04 } }])).not.toBe(a);
    expect(priceVersion([{ provider: 'p', model: 'm', audio_minute: 0.006 }])).not.toBe(priceVersion([{ provider: 'p', model: 'm', audio_minute: 0.003 }]));
    expect(priceVersion([{ provider: 'p', model: 'm', per_1m_characters: 15 }])).not.toBe(priceVersion([{ provider: 'p', model: 'm', per_1m_characters: 30 }]));
  });
});

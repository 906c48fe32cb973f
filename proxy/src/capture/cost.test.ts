import { describe, expect, it } from 'vitest';
import { createPricer } from '@gatelog/core';
import { callCost, costFn } from './cost.ts';
import type { Tokens } from './usage.ts';

const t = (input: number, output: number, cached = 0): Tokens => ({ input_tokens: input, output_tokens: output, cached_tokens: cached, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false });

describe('costFn', () => {
  const real = createPricer([{ provider: 'p', model: 'm', input: 1, output: 2, cached_input: 0.5 }]);
  const cost = costFn(real);

  it('returns exactly what the pricer returns for the normalized token counts', () => {
    expect(cost('p', undefined, 'm', t(10, 5, 4))).toBe(real('p', undefined, 'm', { input_tokens: 10, output_tokens: 5, cache_read_tokens: 4 }));
    expect(cost('p', undefined, 'm', t(10, 5, 4))).toBe((6 + 4 * 0.5 + 10) / 1e6);
    expect(cost('p', undefined, 'm', t(10, 6, 4))).toBe((6 + 2 + 12) / 1e6);
    expect(cost('p', undefined, 'unknown-model-xyz', t(1, 1))).toBeNull();
    expect(cost('p', undefined, '', t(1, 1))).toBeNull();
    const priced = cost('p', 'openai', 'gpt-4o-mini', t(1000, 1000));
    expect(priced).toBeGreaterThan(0);
    expect(priced).toBe(real('p', 'openai', 'gpt-4o-mini', { input_tokens: 1000, output_tokens: 1000, cache_read_tokens: 0 }));
    expect(cost.version).toBe(real.version);
  });

  it('prices the deployment model, else the model the upstream reported; refusals and cache hits cost 0', () => {
    const call = { outcome: 'success', cacheHit: false, provider: 'p', providerId: 'openai', deploymentModel: 'no-such-model', upstreamModel: 'gpt-4o-mini', tokens: t(1000, 1000) };
    expect(callCost(cost, call)).toBe(cost('p', 'openai', 'gpt-4o-mini', t(1000, 1000)));
    expect(callCost(cost, { ...call, deploymentModel: 'm' })).toBe((1000 + 2000) / 1e6);
    expect(callCost(cost, { ...call, cacheHit: true })).toBe(0);
    expect(callCost(cost, { ...call, outcome: 'refused' })).toBe(0);
    expect(callCost(cost, { ...call, outcome: 'error', tokens: t(0, 0) })).toBeNull();
  });

  it('an audio call with no tokens recorded has no price (speech, Whisper\'s seconds); with tokens it is priced', () => {
    const call = { outcome: 'success', cacheHit: false, provider: 'p', providerId: 'openai', deploymentModel: 'm', upstreamModel: '', tokens: t(0, 0) };
    for (const api of ['openai.audio.speech', 'openai.audio.transcriptions', 'openai.audio.translations']) {
      expect(callCost(cost, { ...call, api }), api).toBeNull();
      expect(callCost(cost, { ...call, api, tokens: t(1000, 1000) }), api).toBe((1000 + 2000) / 1e6);
    }
    // Other APIs keep the token price of 0 tokens.
    expect(callCost(cost, { ...call, api: 'openai.moderations' })).toBe(0);
  });

  it('an audio or images call with no tokens is priced by its units: Whisper\'s seconds, speech characters, DALL·E images', () => {
    const oai = costFn(createPricer([]));
    const call = { outcome: 'success', cacheHit: false, provider: 'openai', providerId: 'openai', upstreamModel: '', tokens: t(0, 0) };
    expect(callCost(oai, { ...call, api: 'openai.audio.transcriptions', deploymentModel: 'whisper-1', units: { audio_seconds: 30 } })).toBeCloseTo(0.003, 12);
    expect(callCost(oai, { ...call, api: 'openai.audio.speech', deploymentModel: 'tts-1', units: { input_characters: 1000 } })).toBeCloseTo(0.015, 12);
    expect(callCost(oai, { ...call, api: 'openai.images', deploymentModel: 'dall-e-3', units: { images: 1, image_quality: 'hd' } })).toBeCloseTo(0.08, 12);
    // Reported nothing it is billed by: unknown, not 0.
    expect(callCost(oai, { ...call, api: 'openai.audio.transcriptions', deploymentModel: 'whisper-1', units: {} })).toBeNull();
    expect(callCost(oai, { ...call, api: 'openai.images', deploymentModel: 'dall-e-3', units: { images: 0 } })).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { PROVIDER_KINDS, defaultConfig, parseConfig } from '@gatelog/core';
import { KIND_PRESETS, priceIdFor } from './presets.ts';
import { createProviders } from './registry.ts';

describe('provider kinds', () => {
  it('every configurable kind has a preset row, and every row is configurable', () => {
    expect(Object.keys(KIND_PRESETS).sort()).toEqual([...PROVIDER_KINDS].sort());
  });

  it('a preset needs no base_url; openai and azure do', () => {
    const providers = Object.fromEntries(Object.keys(KIND_PRESETS).filter((k) => KIND_PRESETS[k]!.baseUrl !== undefined).map((k) => [k, { kind: k, api_key: 'k' }]));
    const config = parseConfig({ providers }, 'test', {});
    const built = createProviders(config);
    expect([...built.byName.keys()].sort()).toEqual(Object.keys(providers).sort());
    void built.close();
    for (const kind of ['openai', 'azure']) expect(() => parseConfig({ providers: { p: { kind, api_key: 'k' } } }, 'test', {})).toThrow(/base_url: required/);
  });

  it('prices as OpenAI only on OpenAI\'s host; presets by their genai-prices id', () => {
    expect(priceIdFor('openai', new URL('https://api.openai.com/v1'))).toBe('openai');
    expect(priceIdFor('openai', new URL('http://127.0.0.1:8000/v1'))).toBeUndefined();
    expect(priceIdFor('gemini', new URL(KIND_PRESETS['gemini']!.baseUrl!))).toBe('google');
    expect(KIND_PRESETS['gemini']!.baseUrl).toBe('https://generativelanguage.googleapis.com/v1beta/openai');
    expect(priceIdFor('xai', new URL('https://api.x.ai/v1'))).toBe('x-ai');
  });

  it('images and moderations go only to kinds that serve them; the rest refuse before sending', async () => {
    const config = parseConfig({ providers: {
      o: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1' }, g: { kind: 'groq', api_key: 'k' }, a: { kind: 'azure', base_url: 'http://127.0.0.1:9', api_key: 'k' },
    } }, 'test', {});
    const built = createProviders(config);
    const call = (p: string, api: 'openai.images' | 'openai.moderations'): Promise<unknown> =>
      built.byName.get(p)!.call({ api, model: 'm', body: '{}', json: {}, stream: false, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    for (const [p, api] of [['g', 'openai.images'], ['g', 'openai.moderations'], ['a', 'openai.moderations']] as const) {
      expect(await call(p, api), `${p} ${api}`).toMatchObject({ status: 400, code: 'unsupported_api' });
    }
    // Served: the (aborted) request was attempted, so the failure is not a refusal.
    for (const [p, api] of [['o', 'openai.images'], ['o', 'openai.moderations'], ['a', 'openai.images']] as const) {
      expect(await call(p, api), `${p} ${api}`).not.toMatchObject({ code: 'unsupported_api' });
    }
    await built.close();
  });

  it('image edits go to openai, azure and mock, variations (DALL·E 2) to openai and mock; the rest refuse before sending', async () => {
    const config = parseConfig({ providers: {
      o: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1' }, a: { kind: 'azure', base_url: 'http://127.0.0.1:9', api_key: 'k' }, k: { kind: 'mock' },
      t: { kind: 'together', api_key: 'k' }, x: { kind: 'xai', api_key: 'k' }, g: { kind: 'gemini', api_key: 'k' }, q: { kind: 'groq', api_key: 'k' }, c: { kind: 'anthropic', api_key: 'k' },
    } }, 'test', {});
    const built = createProviders(config);
    type Upload = 'openai.images.edits' | 'openai.images.variations';
    const call = (p: string, api: Upload): Promise<unknown> =>
      built.byName.get(p)!.call({ api, model: 'm', body: '{}', json: {}, stream: false, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    const refused: [string, Upload][] = [['a', 'openai.images.variations'], ...['t', 'x', 'g', 'q', 'c'].flatMap((p) => [[p, 'openai.images.edits'], [p, 'openai.images.variations']] as [string, Upload][])];
    for (const [p, api] of refused) expect(await call(p, api), `${p} ${api}`).toMatchObject({ status: 400, code: 'unsupported_api' });
    for (const [p, api] of [['o', 'openai.images.edits'], ['o', 'openai.images.variations'], ['a', 'openai.images.edits'], ['k', 'openai.images.edits'], ['k', 'openai.images.variations']] as [string, Upload][]) {
      expect(await call(p, api), `${p} ${api}`).not.toMatchObject({ code: 'unsupported_api' });
    }
    await built.close();
  });

  it('audio goes to openai and azure (all three) and groq (Whisper uploads only); the rest refuse before sending', async () => {
    const config = parseConfig({ providers: {
      o: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1' }, g: { kind: 'groq', api_key: 'k' }, a: { kind: 'azure', base_url: 'http://127.0.0.1:9', api_key: 'k' },
      m: { kind: 'mistral', api_key: 'k' }, c: { kind: 'anthropic', api_key: 'k' },
    } }, 'test', {});
    const built = createProviders(config);
    type Audio = 'openai.audio.transcriptions' | 'openai.audio.translations' | 'openai.audio.speech';
    const call = (p: string, api: Audio): Promise<unknown> =>
      built.byName.get(p)!.call({ api, model: 'm', body: '{}', json: {}, stream: false, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    const all: Audio[] = ['openai.audio.transcriptions', 'openai.audio.translations', 'openai.audio.speech'];
    for (const [p, api] of [['g', 'openai.audio.speech'], ...all.map((a) => ['m', a] as const), ...all.map((a) => ['c', a] as const)] as const) {
      expect(await call(p, api), `${p} ${api}`).toMatchObject({ status: 400, code: 'unsupported_api' });
    }
    for (const [p, api] of [...all.map((a) => ['o', a] as const), ...all.map((a) => ['a', a] as const), ['g', 'openai.audio.transcriptions'], ['g', 'openai.audio.translations']] as const) {
      expect(await call(p, api), `${p} ${api}`).not.toMatchObject({ code: 'unsupported_api' });
    }
    await built.close();
  });

  it('ANTHROPIC_API_KEY adds a native anthropic provider (not ANTHROPIC_BASE_URL, which may point at gatelog)', () => {
    const c = defaultConfig({ ANTHROPIC_API_KEY: 'sk-ant-x', ANTHROPIC_BASE_URL: 'http://127.0.0.1:4000' });
    expect(c.providers['anthropic']).toMatchObject({ kind: 'anthropic', base_url: 'https://api.anthropic.com', api_key: 'sk-ant-x' });
  });
});

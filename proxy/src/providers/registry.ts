// Builds one Provider per configured provider. Kinds are a table, not a class hierarchy.
import type { GatelogConfig, ProviderConfig } from '@gatelog/core';
import type { Provider } from './types.ts';
import { createOpenAiProvider, createPoolCache, type PoolFor } from './openai.ts';
import { createMockProvider } from './mock.ts';
import { createAnthropicProvider } from './anthropic.ts';
import { createBedrockProvider } from './bedrock.ts';
import { createVertexProvider } from './vertex.ts';
import { KIND_PRESETS, type KindPreset } from './presets.ts';
import { createScrubber, withScrubbedErrors } from './scrub.ts';

const ADAPTERS: Record<KindPreset['adapter'], (name: string, cfg: ProviderConfig, poolFor: PoolFor) => Provider> = {
  openai: createOpenAiProvider,
  azure: createOpenAiProvider,
  anthropic: createAnthropicProvider,
  bedrock: createBedrockProvider,
  vertex: createVertexProvider,
  mock: createMockProvider,
};

export interface Providers {
  byName: Map<string, Provider>;
  close(): Promise<void>;
}

/** Every configured credential: API keys, cloud secrets and the values of credential-like extra headers. */
function configuredSecrets(config: GatelogConfig): string[] {
  return Object.values(config.providers).flatMap((p) => [
    ...[p.api_key, p.aws_secret_access_key, p.aws_session_token, p.client_secret].filter((s): s is string => s !== undefined),
    ...Object.entries(p.headers).filter(([k]) => /auth|key|token|secret/i.test(k)).map(([, v]) => v.replace(/^(Bearer|Basic)\s+/i, '')),
  ]);
}

export function createProviders(config: GatelogConfig): Providers {
  const pools = createPoolCache(config.router.timeouts.connect_ms);
  const byName = new Map<string, Provider>();
  // An upstream may echo a key in an error answer: scrubbed before anything else reads it.
  const scrub = createScrubber(configuredSecrets(config));
  for (const [name, cfg] of Object.entries(config.providers)) {
    const preset = KIND_PRESETS[cfg.kind];
    const make = preset ? ADAPTERS[preset.adapter] : undefined;
    if (!make) throw new Error(`provider ${name}: unsupported kind "${cfg.kind}"`);
    byName.set(name, withScrubbedErrors(make(name, cfg, pools.poolFor), scrub));
  }
  return {
    byName,
    async close() {
      await Promise.all([...byName.values()].map((p) => p.close()));
      await pools.close();
    },
  };
}

// Builds one Provider per configured provider. Kinds are a table, not a class hierarchy.
import type { GatelogConfig, ProviderConfig } from '@gatelog/core';
import type { Provider } from './types.ts';
import { createOpenAiProvider } from './openai.ts';
import { createMockProvider } from './mock.ts';

const KINDS: Record<string, (name: string, cfg: ProviderConfig) => Provider> = {
  openai: createOpenAiProvider,
  mock: createMockProvider,
};

export function createProviders(config: GatelogConfig): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(config.providers)) {
    const make = KINDS[cfg.kind];
    if (!make) throw new Error(`provider ${name}: unsupported kind "${cfg.kind}"`);
    out.set(name, make(name, cfg));
  }
  return out;
}

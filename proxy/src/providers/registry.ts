// Builds one Provider per configured provider. Kinds are a table, not a class hierarchy.
import type { GatelogConfig, ProviderConfig } from '@gatelog/core';
import type { Provider } from './types.ts';
import { createOpenAiProvider, createPoolCache, type PoolFor } from './openai.ts';
import { createMockProvider } from './mock.ts';

const KINDS: Record<string, (name: string, cfg: ProviderConfig, poolFor: PoolFor) => Provider> = {
  openai: createOpenAiProvider,
  mock: createMockProvider,
};

export interface Providers {
  byName: Map<string, Provider>;
  close(): Promise<void>;
}

export function createProviders(config: GatelogConfig): Providers {
  const pools = createPoolCache();
  const byName = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(config.providers)) {
    const make = KINDS[cfg.kind];
    if (!make) throw new Error(`provider ${name}: unsupported kind "${cfg.kind}"`);
    byName.set(name, make(name, cfg, pools.poolFor));
  }
  return {
    byName,
    async close() {
      await Promise.all([...byName.values()].map((p) => p.close()));
      await pools.close();
    },
  };
}

// OpenAI-compatible upstream: a keep-alive undici Pool per origin (shared between providers), requests sent with the
// provider's key and configured headers only (nothing from the client's headers).
import { Pool } from 'undici';
import type { ProviderConfig } from '@gatelog/core';
import type { Provider, UpstreamApi, UpstreamCall, UpstreamResponse } from './types.ts';

const ENDPOINTS: Record<UpstreamApi, string> = {
  'openai.chat': '/chat/completions',
  'openai.completions': '/completions',
  'openai.embeddings': '/embeddings',
};

/** One keep-alive Pool per upstream origin, shared by every provider that points there. */
export type PoolFor = (origin: string, connections: number) => Pool;

export function createPoolCache(): { poolFor: PoolFor; close(): Promise<void> } {
  const pools = new Map<string, Pool>();
  return {
    poolFor(origin, connections) {
      let pool = pools.get(origin);
      if (!pool) {
        // Timeouts stay generous: a long completion can take minutes before its first byte.
        pool = new Pool(origin, { connections, keepAliveTimeout: 10_000, headersTimeout: 600_000, bodyTimeout: 600_000 });
        pools.set(origin, pool);
      }
      return pool;
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
  };
}

export function createOpenAiProvider(name: string, cfg: ProviderConfig, poolFor: PoolFor): Provider {
  if (!cfg.base_url) throw new Error(`provider ${name}: base_url is required`);
  const url = new URL(cfg.base_url);
  const basePath = url.pathname.replace(/\/+$/, '');
  const paths: Record<UpstreamApi, string> = {
    'openai.chat': basePath + ENDPOINTS['openai.chat'],
    'openai.completions': basePath + ENDPOINTS['openai.completions'],
    'openai.embeddings': basePath + ENDPOINTS['openai.embeddings'],
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(cfg.headers)) headers[k.toLowerCase()] = v;
  if (cfg.api_key) headers['authorization'] = `Bearer ${cfg.api_key}`;
  const pool = poolFor(url.origin, cfg.connections);

  return {
    name,
    kind: 'openai',
    priceProviderId: url.hostname === 'api.openai.com' ? 'openai' : undefined,
    models: cfg.models,
    async call(c: UpstreamCall): Promise<UpstreamResponse> {
      const res = await pool.request({ method: 'POST', path: paths[c.api], headers, body: c.body, signal: c.signal });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    },
    async close(): Promise<void> {
      // The pool is shared per origin; its owner (the pool cache) closes it.
    },
  };
}

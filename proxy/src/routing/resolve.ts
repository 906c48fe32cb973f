// Model name → deployment. An alias from config.models uses its first deployment (weighted
// routing, retries and fallbacks build on this later); `provider/model` reaches a configured
// provider directly. Resolution is a Map lookup: the table is built once at start.
import type { GatelogConfig } from '@gatelog/core';
import { ProxyError } from '../errors.ts';
import type { Provider } from '../providers/types.ts';

export interface Deployment {
  provider: Provider;
  model: string;
}

export interface ModelTable {
  resolve(requested: string): Deployment;
  /** The OpenAI `GET /v1/models` body, serialized once. */
  readonly listBody: string;
}

const MAX_NAMES_IN_ERROR = 50;

export function createModelTable(config: GatelogConfig, providers: ReadonlyMap<string, Provider>): ModelTable {
  const aliases = new Map<string, Deployment>();
  for (const m of config.models) {
    const d = m.deployments[0];
    const p = d ? providers.get(d.provider) : undefined;
    if (d && p) aliases.set(m.name, { provider: p, model: d.model });
  }
  const direct = new Map<string, Deployment>();
  const names = [...aliases.keys()];
  const data: { id: string; object: 'model'; created: number; owned_by: string }[] = names.map((id) => ({ id, object: 'model', created: 0, owned_by: 'gatelog' }));
  for (const p of providers.values()) {
    for (const model of p.models) {
      const id = `${p.name}/${model}`;
      if (!direct.has(id)) data.push({ id, object: 'model', created: 0, owned_by: p.name });
      direct.set(id, { provider: p, model });
    }
  }
  const listBody = JSON.stringify({ object: 'list', data });
  const available = names.length === 0 ? 'none' : names.slice(0, MAX_NAMES_IN_ERROR).join(', ') + (names.length > MAX_NAMES_IN_ERROR ? ', …' : '');

  return {
    listBody,
    resolve(requested: string): Deployment {
      const hit = aliases.get(requested) ?? direct.get(requested);
      if (hit) return hit;
      // Any model of a configured provider is reachable as provider/model, listed or not.
      const slash = requested.indexOf('/');
      if (slash > 0 && slash < requested.length - 1) {
        const p = providers.get(requested.slice(0, slash));
        if (p) {
          const d = { provider: p, model: requested.slice(slash + 1) };
          if (direct.size < 10_000) direct.set(requested, d);
          return d;
        }
      }
      const shown = requested.length > 200 ? `${requested.slice(0, 200)}…` : requested;
      throw new ProxyError(
        404,
        'model_not_found',
        `The model \`${shown}\` does not exist. Available models: ${available}; or use provider/model with a configured provider.`,
        'invalid_request_error',
        'model',
      );
    },
  };
}

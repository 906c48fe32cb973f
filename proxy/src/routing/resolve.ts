// Model name → route. An alias from config.models has weighted/least-busy/latency deployments
// and fallbacks; `provider/model` reaches a configured provider directly (one deployment, no
// fallbacks). Resolution is a Map lookup: the table and the deployment states are built once
// at start; `plan()` gives each call its attempt plan (retries, fallbacks, deadline).
// State that grows with input is bounded: a `provider/model` that is not configured gets its
// route and deployment state from an LRU of MAX_AD_HOC entries, and names over
// MAX_MODEL_NAME characters are unknown models (404) — no model is that long.
import type { IncomingHttpHeaders } from 'node:http';
import type { GatelogConfig } from '@gatelog/core';
import { ProxyError } from '../errors.ts';
import type { Provider } from '../providers/types.ts';
import { DeploymentState } from './deployment-state.ts';
import { AttemptPlan, type AliasRoute } from './plan.ts';
import { defaultRouteOptions, readRouteOptions } from './overrides.ts';

export interface Deployment {
  provider: Provider;
  model: string;
}

export interface DeploymentSnapshot {
  provider: string;
  model: string;
  aliases: string[];
  state: 'ok' | 'cooling' | 'probe';
  in_flight: number;
  ewma_latency_ms: number | null;
  /** ISO time the cooldown ends, null when not cooling. */
  cooldown_until: string | null;
  recent_failures: number;
  total_failures: number;
  last_error: string;
  /** A `provider/model` reached directly that no alias or provider model list names. */
  ad_hoc: boolean;
}

export interface ModelTable {
  /** The first deployment an alias would use (no state change); 404 for unknown models. */
  resolve(requested: string): Deployment;
  /** The attempt plan of one call: header overrides read (400 on bad values), first deployment chosen. */
  plan(requested: string, headers: IncomingHttpHeaders): AttemptPlan;
  /** Every deployment's live state, for /admin/deployments and /metrics. */
  deployments(): DeploymentSnapshot[];
  /** The OpenAI `GET /v1/models` body, serialized once. */
  readonly listBody: string;
}

export interface Clock {
  /** Monotonic ms (performance.now()). */
  now(): number;
  /** Epoch ms. */
  wall(): number;
  random(): number;
}

export const systemClock: Clock = { now: () => performance.now(), wall: () => Date.now(), random: Math.random };

const MAX_NAMES_IN_ERROR = 50;
/** The longest model name routed; longer is answered 404 model_not_found. */
export const MAX_MODEL_NAME = 256;
/** Routes (and deployment states) kept for `provider/model` names not in the config. */
export const MAX_AD_HOC = 1000;

export function createModelTable(config: GatelogConfig, providers: ReadonlyMap<string, Provider>, clock: Clock = systemClock): ModelTable {
  const router = config.router;
  const states = new Map<string, DeploymentState>();
  const stateFor = (p: Provider, model: string, alias: string | null): DeploymentState => {
    const key = `${p.name}/${model}`;
    let s = states.get(key);
    if (!s) {
      s = new DeploymentState(p, model, router.cooldown);
      states.set(key, s);
    }
    if (alias !== null && !s.aliases.includes(alias)) s.aliases.push(alias);
    return s;
  };

  const aliases = new Map<string, AliasRoute & { fallbackNames: string[]; cwNames: string[] }>();
  for (const m of config.models) {
    const candidates = [];
    for (const d of m.deployments) {
      const p = providers.get(d.provider);
      if (!p) continue;
      const state = stateFor(p, d.model, m.name);
      // A deployment shared by several aliases keeps the strictest rpm configured for it.
      if (d.rpm !== undefined) state.rpm = state.rpm === 0 ? d.rpm : Math.min(state.rpm, d.rpm);
      candidates.push({ state, weight: d.weight, attemptMs: d.attempt_timeout_ms ?? m.attempt_timeout_ms });
    }
    if (candidates.length === 0) continue;
    aliases.set(m.name, { name: m.name, strategy: m.strategy, candidates, fallbacks: [], contextFallbacks: [], fallbackNames: m.fallbacks, cwNames: m.context_window_fallbacks });
  }
  // Fallbacks are resolved once, after every alias exists (config validation names unknown ones).
  for (const a of aliases.values()) {
    a.fallbacks = a.fallbackNames.filter((n) => n !== a.name).map((n) => aliases.get(n)).filter((x) => x !== undefined);
    a.contextFallbacks = a.cwNames.filter((n) => n !== a.name).map((n) => aliases.get(n)).filter((x) => x !== undefined);
  }

  const direct = new Map<string, AliasRoute>();
  const names = [...aliases.keys()];
  const data: { id: string; object: 'model'; created: number; owned_by: string }[] = names.map((id) => ({ id, object: 'model', created: 0, owned_by: 'gatelog' }));
  const directRoute = (p: Provider, model: string, id: string): AliasRoute => ({ name: id, strategy: 'weighted', candidates: [{ state: stateFor(p, model, null), weight: 1 }], fallbacks: [], contextFallbacks: [] });
  for (const p of providers.values()) {
    for (const model of p.models) {
      const id = `${p.name}/${model}`;
      if (!direct.has(id)) data.push({ id, object: 'model', created: 0, owned_by: p.name });
      direct.set(id, directRoute(p, model, id));
    }
  }
  const listBody = JSON.stringify({ object: 'list', data });
  const available = names.length === 0 ? 'none' : names.slice(0, MAX_NAMES_IN_ERROR).join(', ') + (names.length > MAX_NAMES_IN_ERROR ? ', …' : '');
  const defaults = defaultRouteOptions(router);

  // Least recently used first (a Map keeps insertion order; a hit moves to the end).
  const adHoc = new Map<string, AliasRoute>();
  const adHocRoute = (p: Provider, model: string, id: string): AliasRoute => {
    let r = adHoc.get(id);
    if (r) adHoc.delete(id);
    else {
      // A model some alias deploys shares that deployment's state (cooldowns, in flight).
      const state = states.get(`${p.name}/${model}`) ?? new DeploymentState(p, model, router.cooldown);
      r = { name: id, strategy: 'weighted', candidates: [{ state, weight: 1 }], fallbacks: [], contextFallbacks: [] };
    }
    adHoc.set(id, r);
    if (adHoc.size > MAX_AD_HOC) adHoc.delete(adHoc.keys().next().value!);
    return r;
  };

  const route = (requested: string): AliasRoute => {
    const hit = aliases.get(requested) ?? direct.get(requested);
    if (hit) return hit;
    // Any model of a configured provider is reachable as provider/model, listed or not.
    const slash = requested.indexOf('/');
    if (slash > 0 && slash < requested.length - 1 && requested.length <= MAX_MODEL_NAME) {
      const p = providers.get(requested.slice(0, slash));
      if (p) return adHocRoute(p, requested.slice(slash + 1), requested);
    }
    const shown = requested.length > 200 ? `${requested.slice(0, 200)}…` : requested;
    throw new ProxyError(
      404,
      'model_not_found',
      `The model \`${shown}\` does not exist. Available models: ${available}; or use provider/model with a configured provider.`,
      'invalid_request_error',
      'model',
    );
  };

  return {
    listBody,
    resolve(requested) {
      const c = route(requested).candidates[0]!;
      return { provider: c.state.provider, model: c.state.model };
    },
    plan(requested, headers) {
      const r = route(requested);
      return new AttemptPlan(r, readRouteOptions(headers, defaults), router.backoff, clock.now(), clock.random);
    },
    deployments() {
      const now = clock.now();
      const wall = clock.wall();
      const configured = new Set(states.values());
      const extra = [...adHoc.values()].map((r) => r.candidates[0]!.state).filter((s) => !configured.has(s));
      return [...configured, ...extra].map((s) => {
        const health = s.health(now);
        return {
          provider: s.provider.name,
          model: s.model,
          aliases: [...s.aliases],
          state: health,
          in_flight: s.inFlight,
          ewma_latency_ms: s.ewmaMs < 0 ? null : Math.round(s.ewmaMs * 1000) / 1000,
          cooldown_until: health === 'cooling' && !s.probing ? new Date(wall + (s.cooldownUntil - now)).toISOString() : null,
          recent_failures: s.recentFailures(now),
          total_failures: s.totalFailures,
          last_error: s.lastError,
          ad_hoc: !configured.has(s),
        };
      });
    },
  };
}

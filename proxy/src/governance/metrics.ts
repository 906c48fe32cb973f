// Prometheus metrics of governance: loud counters for the failures an operator must see
// (shared state down, key refresh failing) and what the cache and the gates did.
import { Counter, type Registry } from 'prom-client';

export interface GovernanceMetrics {
  stateFailure(op: string): void;
  keyRefreshFailure(): void;
  refusal(code: string): void;
  cache(result: 'hit' | 'miss' | 'store'): void;
}

export function createGovernanceMetrics(registry: Registry): GovernanceMetrics {
  const state = new Counter({
    name: 'gatelog_state_backend_failures_total',
    help: 'Failed calls to the shared state backend (Redis); while failing, limits hold per proxy (open) or requests are refused (closed).',
    labelNames: ['op'] as const,
    registers: [registry],
  });
  const refresh = new Counter({
    name: 'gatelog_key_refresh_failures_total',
    help: 'Failed virtual-key reloads from the store (the last good key set stays in use).',
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'gatelog_governance_refusals_total',
    help: 'Requests refused by governance (model not allowed, rate limit, budget, shared state unavailable), by code.',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const cache = new Counter({
    name: 'gatelog_cache_total',
    help: 'Response cache lookups and stores, by result (hit, miss, store).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    stateFailure: (op) => state.labels(op).inc(),
    keyRefreshFailure: () => refresh.inc(),
    refusal: (code) => refusals.labels(code).inc(),
    cache: (result) => cache.labels(result).inc(),
  };
}

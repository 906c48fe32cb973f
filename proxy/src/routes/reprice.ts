// Admin API for repricing (the master key, or an owner's token):
//   POST /admin/reprice   {from, to, model?} → a receipt (rows, changed, before/after USD, price_version, …)
// Recomputes cost_usd of the calls in range from their stored token columns with this
// process's price table (config `pricing` + genai-prices), adjusts the spend rollups, stamps
// repriced_at / price_version (core/src/store/reprice.ts), and writes one audit row.
import type { FastifyInstance } from 'fastify';
import { appendAudit, RepriceRequest, repriceCalls, type RepriceRow, type Store } from '@gatelog/core';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { callCost, type CostFn } from '../capture/cost.ts';
import type { Tokens } from '../capture/usage-normalize.ts';
import { mediaApi } from '../capture/media-units.ts';
import { BATCH_PRICE_FACTOR, BATCH_UPSTREAM_API } from '../batches/record.ts';

export interface RepriceRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  /** The same price function new calls are priced with. */
  cost: CostFn;
  /** genai-prices' provider id of a configured provider (by name); undefined: matched by model. */
  priceProviderOf: (provider: string) => string | undefined;
}

/** A stored call's cost as capture would price it now (the same rule: cost.ts callCost). */
export function storedCallCost(cost: CostFn, providerId: string | undefined, row: RepriceRow): number | null {
  const tokens: Tokens = {
    input_tokens: row.input_tokens, output_tokens: row.output_tokens, cached_tokens: row.cached_tokens,
    cache_creation_tokens: row.cache_creation_tokens, cache_write_1h_tokens: row.cache_write_1h_tokens, reasoning_tokens: row.reasoning_tokens,
    input_audio_tokens: row.input_audio_tokens, output_audio_tokens: row.output_audio_tokens, tokens_estimated: false,
  };
  const c = callCost(cost, {
    api: row.client_api, outcome: row.outcome, cacheHit: row.cache_hit, provider: row.provider, providerId,
    deploymentModel: row.deployment_model, upstreamModel: row.upstream_model, tokens,
    // Only audio and images calls carry units (the row's unit columns), as when they were recorded.
    units: mediaApi(row.client_api) ? row : undefined,
  });
  // A batch's lines were billed at the Batch API's price, and are repriced at it.
  return c !== null && row.upstream_api === BATCH_UPSTREAM_API ? c * BATCH_PRICE_FACTOR : c;
}

export function repriceRoutes(deps: RepriceRouteDeps) {
  const { store, gov } = deps;
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    const guard = adminGuard(gov, store);
    app.addHook('onRequest', async (req) => {
      await guard(req);
    });

    app.post('/reprice', async (req) => {
      // Rewriting recorded costs changes every spend view and budget: owners only.
      if (principalOf(req).role !== 'owner') throw new ProxyError(403, 'owner_only', 'Repricing needs the master key or an owner token.', 'permission_error');
      const parsed = RepriceRequest.safeParse(req.body ?? {});
      if (!parsed.success) throw badRequest('invalid_reprice_request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const r = parsed.data;
      const version = deps.cost.version ?? '';
      const receipt = await repriceCalls(store, r, (row) => storedCallCost(deps.cost, deps.priceProviderOf(row.provider), row), version);
      await appendAudit(store, { ...auditWho(req), action: 'calls.reprice', targetType: 'calls', target: `${r.from}..${r.to}${r.model ? ` model=${r.model}` : ''}`, details: { request: r, receipt } });
      return { object: 'reprice.receipt', request: r, ...receipt };
    });
    done();
  };
}

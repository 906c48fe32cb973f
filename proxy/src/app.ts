// buildProxy(deps): the proxy as a fastify instance, never listening (main.ts / the launcher
// does). Owns /v1/*, /healthz, /readyz and /metrics; every other path is left to the host
// (the embedded launcher mounts the UI through the root not-found handler).
import fastify, { type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Registry } from 'prom-client';
import { createPricer, createPrivacy, type GatelogConfig, type LlmCallEvent, type Logger, type Store } from '@gatelog/core';
import { createProviders } from './providers/registry.ts';
import { createModelTable } from './routing/resolve.ts';
import { createMetrics, createUpstreamFileMetrics } from './metrics.ts';
import { createAuthCheck } from './auth.ts';
import { costFn } from './capture/cost.ts';
import { AZURE_PREFIX, openAiRoutes } from './routes/openai.ts';
import { healthRoutes } from './routes/health.ts';
import { installQueryGuard } from './routes/query-guard.ts';
import { registerRoutingMetrics } from './routing/metrics.ts';
import { deploymentsRoute } from './routing/admin-route.ts';
import { anthropicRoutes } from './routes/anthropic.ts';
import { responsesRoutes } from './routes/responses.ts';
import type { RelayEnv } from './relay.ts';
import { createGovernance } from './governance/runtime.ts';
import { createGovernanceMetrics } from './governance/metrics.ts';
import type { CounterBackend } from './governance/backend.ts';
import { adminRoutes } from './routes/admin.ts';
import { registerCallsApi } from './routes/calls-api.ts';
import { eraseRoutes } from './routes/erase.ts';
import { repriceRoutes } from './routes/reprice.ts';
import { auditRoutes } from './routes/audit.ts';
import { exportRoutes } from './routes/export.ts';
import { startCompliance } from './compliance.ts';
import { clientErrorHandler } from './client-error.ts';
import { hostCheckFor, installHostGuard } from './host-guard.ts';
import type { SpanExport } from './otel/export.ts';
import { peopleRoutes } from './routes/people.ts';
import { SCIM_PREFIX, scimRoutes } from './routes/scim.ts';
import { uiWriteRoutes } from './routes/ui-writes.ts';
import { alertRoutes } from './routes/alerts.ts';
import { startProxyAlerts } from './alerts.ts';
import { startProxyAuditStream } from './audit-stream.ts';
import { replayRoutes } from './routes/replay.ts';
import { feedbackAdminRoutes, feedbackApiRoutes } from './routes/feedback.ts';
import { feedbackWriter } from '@gatelog/core/store/feedback';
import { registerBatches } from './batches/index.ts';
import { createUpstreamPurge } from './batches/purge.ts';

export interface ProxyDeps {
  config: GatelogConfig;
  publish: (e: LlmCallEvent) => void;
  /** The publisher's batched form (see RelayEnv.publishThen), used on the relay's path when given. */
  publishBatched?: ((e: LlmCallEvent, written: () => void) => void) | undefined;
  logger: Logger;
  registry: Registry;
  masterKey: string | undefined;
  serverFactory?: FastifyServerFactory;
  readiness?: () => Record<string, boolean>;
  /** Virtual keys, budget baselines and the admin API (/admin/keys, /admin/audit) need it. */
  store?: Store | undefined;
  /** Shared counters for limits across proxies (Redis, from config.state.redis); default in memory. */
  sharedState?: CounterBackend | undefined;
  /** This process's data dir: erasure scrubs the event log, spool and dead letters kept there. */
  dataDir?: string | undefined;
  /** The clock governance reads (key expiry, budget periods, rate windows); default Date.now. */
  now?: (() => number) | undefined;
}

const PUBLISH_ERROR_LOG_MS = 10_000;

/** A failing bus must not turn into a log line per request: one line per 10 s, with a count. */
function publishErrorLogger(logger: Logger): (err: unknown, requestId: string) => void {
  let last = 0;
  let suppressed = 0;
  return (err, requestId) => {
    const now = Date.now();
    if (now - last < PUBLISH_ERROR_LOG_MS) {
      suppressed++;
      return;
    }
    logger.error({ err, request_id: requestId, suppressed, code: 'GATELOG_ERR_PUBLISH' }, 'failed to publish call event');
    last = now;
    suppressed = 0;
  };
}

/** The publisher's batched form with OpenTelemetry taking each event, as the plain one does. */
function batchedWithSpans(batched: ProxyDeps['publishBatched'], spans: SpanExport | null): RelayEnv['publishThen'] {
  if (!batched || !spans) return batched;
  const observe = spans.tap(() => undefined);
  return (e, written) => {
    observe(e);
    batched(e, written);
  };
}

export async function buildProxy(deps: ProxyDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = fastify({
    logger: false,
    bodyLimit: config.server.body_limit,
    return503OnClosing: true,
    clientErrorHandler,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
  });
  const providers = createProviders(config);
  const table = createModelTable(config, providers.byName);
  const metrics = createMetrics(deps.registry);
  const auth = createAuthCheck(deps.masterKey);
  const gov = await createGovernance({
    config,
    store: deps.store,
    masterKey: deps.masterKey,
    logger: deps.logger,
    metrics: createGovernanceMetrics(deps.registry),
    shared: deps.sharedState,
    dataDir: deps.dataDir,
    ...(deps.now ? { now: deps.now } : {}),
  });
  // OpenTelemetry: every published call also becomes spans, exported in the background. The
  // exporter's libraries (~230 ms of start-up) load only when an endpoint is configured.
  const spans = config.otel.endpoint
    ? (await import('./otel/export.ts')).startSpanExport(config.otel, { registry: deps.registry, logger: deps.logger })
    : null;
  const env: RelayEnv = {
    publish: spans ? spans.tap(deps.publish) : deps.publish,
    publishThen: batchedWithSpans(deps.publishBatched, spans),
    onPublishError: publishErrorLogger(deps.logger),
    metrics,
    bodyCap: config.logging.body_cap_bytes,
    cost: costFn(createPricer(config.pricing)),
    router: config.router,
    privacy: createPrivacy(config.redaction),
  };
  // First of all hooks: a request for a host we do not serve touches nothing else.
  installHostGuard(app, hostCheckFor(config, deps.masterKey));
  // Admin reads refuse query parameters they do not take (routes/query-guard.ts).
  installQueryGuard(app);
  spans?.install(app);
  app.addHook('onClose', () => providers.close());
  app.addHook('onClose', () => gov.stop());
  await app.register(openAiRoutes({ table, env, auth: gov.auth.check, gov }), { prefix: '/v1' });
  // Own scopes: /v1/messages answers in Anthropic's error shape; /v1/responses in OpenAI's.
  const defaultAnthropic = [...providers.byName.values()].find((p) => p.kind === 'anthropic');
  await app.register(anthropicRoutes({ table, env, auth: gov.auth.check, gov, defaultAnthropic }), { prefix: '/v1' });
  await app.register(responsesRoutes({ table, env, auth: gov.auth.check, gov }), { prefix: '/v1' });
  // LiteLLM-style bare paths (/chat/completions, /models, …) for clients pointed at the origin.
  await app.register(openAiRoutes({ table, env, auth: gov.auth.check, gov }, { root: true }));
  await app.register(responsesRoutes({ table, env, auth: gov.auth.check, gov }));
  // Azure OpenAI clients: /openai/deployments/{alias}/chat/completions?api-version=…, key in `api-key`.
  await app.register(openAiRoutes({ table, env, auth: gov.auth.check, gov }, { azure: true }), { prefix: AZURE_PREFIX });
  // Batch files at their provider, deleted by retention (a sweep started with the batch routes) and by erasure.
  const upstreamFiles = deps.store
    ? createUpstreamPurge({ store: deps.store, providers: providers.byName, retention: config.retention, enabled: config.batches.purge_upstream, now: gov.now, logger: deps.logger, metrics: createUpstreamFileMetrics(deps.registry) })
    : undefined;
  if (deps.store && upstreamFiles) await app.register(eraseRoutes({ store: deps.store, gov, metrics, dataDir: deps.dataDir, exports: config.exports, upstreamFiles, logger: deps.logger }), { prefix: '/admin' });
  if (deps.store) await app.register(repriceRoutes({ store: deps.store, gov, metrics, cost: env.cost, priceProviderOf: (n) => providers.byName.get(n)?.priceProviderId }), { prefix: '/admin' });
  if (deps.store) await app.register(adminRoutes({ store: deps.store, gov, metrics }), { prefix: '/admin' });
  if (deps.store) registerCallsApi(app, { store: deps.store, masterKey: deps.masterKey, gov });
  if (deps.store) {
    const sinks = startProxyAuditStream(app, { store: deps.store, config, logger: deps.logger, registry: deps.registry });
    await app.register(auditRoutes({ store: deps.store, gov, metrics, sinks }), { prefix: '/admin' });
  }
  if (deps.store) await app.register(exportRoutes({ store: deps.store, gov, metrics }), { prefix: '/admin' });
  if (deps.store) startCompliance(app, { store: deps.store, config, logger: deps.logger });
  if (deps.store) startProxyAlerts(app, { store: deps.store, config, logger: deps.logger, registry: deps.registry });
  if (deps.store) await app.register(alertRoutes({ store: deps.store, gov, metrics, config }), { prefix: '/admin' });
  if (deps.store) await app.register(uiWriteRoutes({ store: deps.store, gov, metrics }), { prefix: '/admin' });
  if (deps.store) {
    // One writer for both routes: feedback rows are gathered into a few inserts a second.
    const writer = feedbackWriter(deps.store);
    app.addHook('onClose', () => writer.close());
    await app.register(feedbackApiRoutes({ store: deps.store, writer, gov, metrics }), { prefix: '/v1' });
    await app.register(feedbackAdminRoutes({ store: deps.store, writer, gov, metrics }), { prefix: '/admin' });
  }
  // OpenAI batch jobs: files and batches owned per team, results recorded as calls (batches/).
  if (deps.store && upstreamFiles) await registerBatches(app, { store: deps.store, table, providers: providers.byName, gov, metrics, env, logger: deps.logger, pollMs: config.batches.poll_ms, purge: upstreamFiles, purgeMs: config.retention.sweep_ms, lineMaxBytes: config.server.body_limit });
  if (deps.store) await app.register(replayRoutes({ store: deps.store, gov, metrics, masterKey: deps.masterKey }), { prefix: '/admin' });
  if (deps.store) await app.register(peopleRoutes({ store: deps.store, auth: gov.auth, now: gov.now, metrics }), { prefix: '/admin' });
  // SCIM provisioning (off unless sso.scim.enabled, which the config only allows with sso.oidc).
  const oidc = config.sso.oidc;
  if (deps.store && config.sso.scim.enabled && oidc) await app.register(scimRoutes({ store: deps.store, auth: gov.auth, now: gov.now, metrics, oidc }), { prefix: SCIM_PREFIX });
  registerRoutingMetrics(deps.registry, () => table.deployments());
  await app.register(deploymentsRoute({ snapshot: () => table.deployments(), auth, metrics }));
  await app.register(healthRoutes({ registry: deps.registry, metrics, auth, readiness: deps.readiness }));
  return app;
}

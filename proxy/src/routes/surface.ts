// Shared plumbing for a fastify scope that answers in the OpenAI error shape: one error
// handler, request stamping, and request metrics for responses fastify itself sends.
import type { AuthCheck } from '../auth.ts';
import type { FastifyInstance } from 'fastify';
import { openAiErrorBody, toProxyError, type ProxyError } from '../errors.ts';
import { stampRequest, stateOf } from '../request-state.ts';
import type { ProxyMetrics } from '../metrics.ts';

export function routeLabel(url: string | undefined): string {
  return url ?? 'unmatched';
}

/** `renderError`: the surface's error body (default: OpenAI's shape). */
export function installSurface(app: FastifyInstance, metrics: ProxyMetrics, renderError: (e: ProxyError) => string = openAiErrorBody): void {
  app.decorateRequest('gatelog', null);
  app.addHook('onRequest', stampRequest);
  // Hijacked (relayed) responses are counted by the relay; this sees everything else.
  app.addHook('onResponse', (req, reply, done) => {
    metrics.request(routeLabel(req.routeOptions.url), reply.statusCode, (performance.now() - stateOf(req).t0) / 1000);
    done();
  });
  app.setErrorHandler((err, _req, reply) => {
    const e = toProxyError(err);
    void reply.code(e.status).header('content-type', 'application/json; charset=utf-8').send(renderError(e));
  });
}

/**
 * A model API surface (OpenAI, Anthropic, Responses): the above, plus the auth check, and
 * bodies taken as raw JSON bytes so each handler parses them exactly once.
 */
export function installApiSurface(
  app: FastifyInstance,
  metrics: ProxyMetrics,
  auth: AuthCheck | null,
  renderError: (e: ProxyError) => string = openAiErrorBody,
): void {
  installSurface(app, metrics, renderError);
  if (auth) {
    app.addHook('onRequest', (req, _reply, next) => {
      const denied = auth(req.headers);
      if (denied) next(denied);
      else next();
    });
  }
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, next) => next(null, body));
}

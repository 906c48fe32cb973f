// Liveness, readiness and Prometheus metrics. /healthz and /readyz stay open (probes carry
// no credentials); /metrics needs the master key when one is set.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { AuthCheck } from '../auth.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { installSurface } from './surface.ts';

export interface HealthRouteDeps {
  registry: Registry;
  metrics: ProxyMetrics;
  auth: AuthCheck | null;
  readiness: (() => Record<string, boolean>) | undefined;
}

const HEALTHY = JSON.stringify({ status: 'ok' });

export function healthRoutes(deps: HealthRouteDeps) {
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.get('/healthz', (_req, reply) => {
      void reply.header('content-type', 'application/json; charset=utf-8').send(HEALTHY);
    });
    app.get('/readyz', (_req, reply) => {
      const checks = deps.readiness?.() ?? {};
      const ok = Object.values(checks).every(Boolean);
      void reply
        .code(ok ? 200 : 503)
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ status: ok ? 'ok' : 'unavailable', checks }));
    });
    app.get(
      '/metrics',
      {
        onRequest: (req, _reply, next) => {
          const denied = deps.auth?.(req.headers) ?? null;
          if (denied) next(denied);
          else next();
        },
      },
      async (_req, reply) => {
        const text = await deps.registry.metrics();
        return reply.header('content-type', deps.registry.contentType).send(text);
      },
    );
    done();
  };
}

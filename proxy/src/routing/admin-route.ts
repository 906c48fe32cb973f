// GET /admin/deployments (master key): every deployment's live routing state — in flight,
// latency EWMA, cooldown, recent failures — for operators and the UI.
import type { FastifyInstance } from 'fastify';
import type { AuthCheck } from '../auth.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { installSurface } from '../routes/surface.ts';
import type { DeploymentSnapshot } from './resolve.ts';

export interface DeploymentsRouteDeps {
  snapshot: () => DeploymentSnapshot[];
  auth: AuthCheck | null;
  metrics: ProxyMetrics;
}

export function deploymentsRoute(deps: DeploymentsRouteDeps) {
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.get(
      '/admin/deployments',
      {
        onRequest: (req, _reply, next) => {
          const denied = deps.auth?.(req.headers) ?? null;
          if (denied) next(denied);
          else next();
        },
      },
      (_req, reply) => {
        void reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ object: 'list', data: deps.snapshot() }));
      },
    );
    done();
  };
}

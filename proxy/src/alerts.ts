// The proxy service runs the alert evaluator (core/src/alerts) for as long as the app is open:
// embedded, in-process; with a ClickHouse server, every proxy runs it and the evaluation lease
// picks one per tick. Delivery never touches a request's path.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatelogConfig, Logger, Store } from '@gatelog/core';
import { startAlerts, type AlertsRunner } from '@gatelog/core/alerts/evaluator';

export function startProxyAlerts(app: FastifyInstance, deps: { store: Store; config: GatelogConfig; logger: Logger; registry: Registry; now?: (() => number) | undefined }): AlertsRunner {
  const runner = startAlerts({
    store: deps.store,
    config: deps.config.alerts,
    teams: deps.config.teams,
    logger: deps.logger,
    metrics: deps.registry,
    shared: deps.store.kind === 'http',
    ...(deps.now ? { now: deps.now } : {}),
  });
  app.addHook('onClose', () => runner.stop());
  return runner;
}

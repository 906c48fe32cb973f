// The proxy service runs the alert evaluator (core/src/alerts) for as long as the app is open:
// embedded, in-process; with a ClickHouse server, every proxy runs it and the evaluation lease
// picks one per tick. Delivery never touches a request's path.
import type { FastifyInstance } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { GatelogConfig, Logger, Store } from '@gatelog/core';
import { startAlerts, type AlertsRunner } from '@gatelog/core/alerts/evaluator';

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter {
  // One per registry (a registry shared by several apps in a process keeps the first).
  return (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function startProxyAlerts(app: FastifyInstance, deps: { store: Store; config: GatelogConfig; logger: Logger; registry: Registry; now?: (() => number) | undefined }): AlertsRunner {
  const transitions = counter(deps.registry, 'gatelog_alert_transitions_total', 'Alert firings and recoveries', ['transition', 'kind']);
  const deliveries = counter(deps.registry, 'gatelog_alert_deliveries_total', 'Alert webhook delivery attempts by result (ok, retry, failed = gave up)', ['result']);
  const runner = startAlerts({
    store: deps.store,
    config: deps.config.alerts,
    teams: deps.config.teams,
    logger: deps.logger,
    metrics: deps.registry,
    shared: deps.store.kind === 'http',
    ...(deps.now ? { now: deps.now } : {}),
    onTransition: (transition, kind) => transitions.inc({ transition, kind }),
    onDelivery: (result) => deliveries.inc({ result }),
  });
  app.addHook('onClose', () => runner.stop());
  return runner;
}

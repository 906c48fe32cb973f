// Deployment state in /metrics: gauges read from the model table when Prometheus scrapes
// (nothing is updated on the hot path).
import { Gauge, type Registry } from 'prom-client';
import type { DeploymentSnapshot } from './resolve.ts';

export function registerRoutingMetrics(registry: Registry, snapshot: () => DeploymentSnapshot[]): void {
  const labelNames = ['provider', 'model'] as const;
  const inFlight = new Gauge({ name: 'gatelog_deployment_in_flight', help: 'Upstream attempts in flight, by deployment.', labelNames, registers: [registry] });
  const latency = new Gauge({ name: 'gatelog_deployment_latency_ewma_seconds', help: 'Moving average of time to first byte, by deployment.', labelNames, registers: [registry] });
  new Gauge({
    name: 'gatelog_deployment_cooldown',
    help: '1 while a deployment is cooling down after repeated failures (skipped by routing), else 0.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      inFlight.reset();
      latency.reset();
      for (const d of snapshot()) {
        const l = { provider: d.provider, model: d.model };
        this.set(l, d.state === 'cooling' ? 1 : 0);
        inFlight.set(l, d.in_flight);
        if (d.ewma_latency_ms !== null) latency.set(l, d.ewma_latency_ms / 1000);
      }
    },
  });
}

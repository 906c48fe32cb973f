// Deployment state in /metrics: gauges read from the model table when Prometheus scrapes
// (nothing is updated on the hot path). Label sets are bounded by the config: deployments
// reached as an unconfigured `provider/model` are summed under model="other".
import { Gauge, type Registry } from 'prom-client';
import type { DeploymentSnapshot } from './resolve.ts';

interface Row {
  provider: string;
  model: string;
  cooling: number;
  inFlight: number;
  latencySeconds: number | null;
}

function rowsOf(snapshot: DeploymentSnapshot[]): Row[] {
  const rows: Row[] = [];
  const other = new Map<string, Row>();
  for (const d of snapshot) {
    if (d.ad_hoc) {
      const o = other.get(d.provider) ?? { provider: d.provider, model: 'other', cooling: 0, inFlight: 0, latencySeconds: null };
      o.inFlight += d.in_flight;
      o.cooling = Math.max(o.cooling, d.state === 'cooling' ? 1 : 0);
      other.set(d.provider, o);
      continue;
    }
    rows.push({ provider: d.provider, model: d.model, cooling: d.state === 'cooling' ? 1 : 0, inFlight: d.in_flight, latencySeconds: d.ewma_latency_ms === null ? null : d.ewma_latency_ms / 1000 });
  }
  return [...rows, ...other.values()];
}

export function registerRoutingMetrics(registry: Registry, snapshot: () => DeploymentSnapshot[]): void {
  const labelNames = ['provider', 'model'] as const;
  // One snapshot per scrape, shared by the three gauges (each collects just before it is read).
  let cached: { at: number; rows: Row[] } | undefined;
  const rows = (): Row[] => {
    const now = performance.now();
    if (!cached || now - cached.at > 50) cached = { at: now, rows: rowsOf(snapshot()) };
    return cached.rows;
  };
  const gauge = (name: string, help: string, value: (r: Row) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows()) {
          const v = value(r);
          if (v !== null) this.set({ provider: r.provider, model: r.model }, v);
        }
      },
    });
  };
  gauge('gatelog_deployment_in_flight', 'Upstream attempts in flight, by deployment.', (r) => r.inFlight);
  gauge('gatelog_deployment_latency_ewma_seconds', 'Moving average of time to first byte, by deployment.', (r) => r.latencySeconds);
  gauge('gatelog_deployment_cooldown', '1 while a deployment is cooling down after repeated failures (skipped by routing), else 0.', (r) => r.cooling);
}

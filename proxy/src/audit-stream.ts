// The proxy service streams the audit trail to the sinks of `audit.sinks` (core/src/audit-stream)
// for as long as the app is open: embedded, in-process; with a ClickHouse server every proxy
// runs it and a lease per sink (in ClickHouse, or in Redis with state.redis) picks one forwarder
// at a time. Nothing of it is on a request's path. Its status (GET /admin/audit/sinks) is read
// from the store and the lease, so every proxy answers the same.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GatelogConfig, Logger, Store } from '@gatelog/core';
import { startAuditStream, type AuditStreamHooks } from '@gatelog/core/audit-stream/forwarder';
import { redisLease, storeLease } from '@gatelog/core/audit-stream/lease';
import { readSinkStatuses, type SinkStatus } from '@gatelog/core/audit-stream/status';

function metric<T extends Counter | Gauge>(registry: Registry, name: string, make: () => T): T {
  // One per registry (a registry shared by several apps in a process keeps the first).
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function auditStreamHooks(registry: Registry): AuditStreamHooks {
  const rows = metric(registry, 'gatelog_audit_stream_rows_total', () => new Counter({
    name: 'gatelog_audit_stream_rows_total',
    help: 'Audit rows sent to an audit sink, by result: forwarded (accepted), failed (a batch the sink did not accept after every attempt; retried from the cursor)',
    labelNames: ['sink', 'result'],
    registers: [registry],
  }));
  const lag = metric(registry, 'gatelog_audit_stream_lag_seconds', () => new Gauge({
    name: 'gatelog_audit_stream_lag_seconds',
    help: 'Age of the oldest audit row not yet accepted by the sink (0: caught up)',
    labelNames: ['sink'],
    registers: [registry],
  }));
  const failing = metric(registry, 'gatelog_audit_stream_failing', () => new Gauge({
    name: 'gatelog_audit_stream_failing',
    help: '1 while the sink refuses or cannot be reached after every attempt, else 0',
    labelNames: ['sink'],
    registers: [registry],
  }));
  const forwardedRows = (sink: string, n: number): void => void rows.inc({ sink, result: 'forwarded' }, n);
  const failedRows = (sink: string, n: number): void => void rows.inc({ sink, result: 'failed' }, n);
  const lagSeconds = (sink: string, s: number): void => void lag.set({ sink }, s);
  const failingNow = (sink: string, f: boolean): void => void failing.set({ sink }, f ? 1 : 0);
  return { forwarded: forwardedRows, failed: failedRows, lag: lagSeconds, failing: failingNow };
}

/** Every configured sink's status now. */
export type SinkStatusReader = () => Promise<SinkStatus[]>;

/** Starts forwarding (when sinks are configured); returns how to read the sinks' status. */
export function startProxyAuditStream(app: FastifyInstance, deps: { store: Store; config: GatelogConfig; logger: Logger; registry: Registry }): SinkStatusReader {
  if (deps.config.audit.sinks.length === 0) return () => Promise.resolve([]);
  const shared = deps.store.kind === 'http';
  // With shared state in Redis the sink leases live there (one holder at a time, on Redis's clock).
  const redis = deps.config.state.redis;
  const lease = shared ? (redis ? redisLease(redis) : storeLease(deps.store)) : undefined;
  const stream = startAuditStream({ store: deps.store, config: deps.config.audit, logger: deps.logger, shared, lease, hooks: auditStreamHooks(deps.registry) });
  app.addHook('onClose', async () => {
    await stream?.stop();
    await lease?.close();
  });
  const { store, config } = deps;
  return () => readSinkStatuses(store, config.audit, lease);
}

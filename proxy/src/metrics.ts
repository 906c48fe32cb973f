// Prometheus metrics of the hot path, registered on the registry passed in. Label children
// are cached so a request costs a Map lookup, not a label-hash per observation.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface ProxyMetrics {
  request(route: string, status: number, seconds: number): void;
  upstreamError(provider: string, errorClass: string): void;
  overhead(seconds: number): void;
}

export function createMetrics(registry: Registry): ProxyMetrics {
  const requests = new Counter({
    name: 'gatelog_requests_total',
    help: 'Requests answered by the proxy, by route and HTTP status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gatelog_request_duration_seconds',
    help: 'Time from request arrival to the end of the response, by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'gatelog_upstream_errors_total',
    help: 'Failed upstream attempts, by provider and error class.',
    labelNames: ['provider', 'class'] as const,
    registers: [registry],
  });
  const overhead = new Histogram({
    name: 'gatelog_proxy_overhead_seconds',
    help: 'Time spent inside gatelog per call (before dispatch plus after the upstream finished).',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [registry],
  });
  const reqChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const durChildren = new Map<string, ReturnType<typeof duration.labels>>();
  return {
    request(route, status, seconds) {
      const key = `${route} ${status}`;
      let c = reqChildren.get(key);
      if (!c) {
        c = requests.labels(route, String(status));
        reqChildren.set(key, c);
      }
      c.inc();
      let h = durChildren.get(route);
      if (!h) {
        h = duration.labels(route);
        durChildren.set(route, h);
      }
      h.observe(seconds);
    },
    upstreamError(provider, errorClass) {
      upstreamErrors.labels(provider, errorClass).inc();
    },
    overhead(seconds) {
      overhead.observe(seconds);
    },
  };
}

/** Why a file was deleted at its provider: its team's retention period passed, or an erasure covers it. */
export type UpstreamFileReason = 'retention' | 'erasure';

/** Files gatelog deleted (or failed to delete) at their provider (batches/purge.ts). */
export interface UpstreamFileMetrics {
  deleted(reason: UpstreamFileReason, n: number): void;
  failed(reason: UpstreamFileReason, n: number): void;
}

export function createUpstreamFileMetrics(registry: Registry): UpstreamFileMetrics {
  const deleted = new Counter({
    name: 'gatelog_upstream_files_deleted_total',
    help: 'Batch files deleted at their provider by gatelog (or found gone there), by reason: retention or erasure.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const failed = new Counter({
    name: 'gatelog_upstream_file_delete_failures_total',
    help: 'Attempts to delete a batch file at its provider that failed (retried at the next sweep), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return {
    deleted(reason, n) {
      if (n > 0) deleted.labels(reason).inc(n);
    },
    failed(reason, n) {
      if (n > 0) failed.labels(reason).inc(n);
    },
  };
}

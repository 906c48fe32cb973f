// OTLP/HTTP span export of every published call (otel: in gatelog.yaml), in the proxy process
// (embedded and distributed alike). Nothing of it is on a call's path: the publish tap only
// queues the finished event; spans are built on a later turn of the event loop and handed to
// the SDK's BatchSpanProcessor, which sends batches in the background. The queue is bounded:
// past max_queue_size spans are dropped and counted (gatelog_otel_spans_total{result="dropped"}),
// so a slow or unreachable collector costs memory up to that bound, never latency.
import type { FastifyInstance } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { LlmCallEvent, Logger } from '@gatelog/core';
import type { OtelConfig } from '@gatelog/core/otel/config';
import { readRequestMeta } from '../capture/request-meta.ts';
import { callSpanId, formatTraceparent, otelTraceId } from '../capture/trace-context.ts';
import { eventSpans, spanEnv } from './spans.ts';

export interface SpanExport {
  /** `publish` that also queues the event for export. */
  tap(publish: (e: LlmCallEvent) => void): (e: LlmCallEvent) => void;
  /** Answer every model API call with a `traceparent` naming gatelog's span, and flush on close. */
  install(app: FastifyInstance): void;
  /** Send what is queued (tests, shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface SpanExportDeps {
  registry: Registry;
  logger: Logger;
  /** Default: the OTLP/HTTP exporter of `config.protocol`. */
  exporter?: SpanExporter;
}

/** Whether a call's spans are exported: the caller's sampled flag, else a share of trace ids. */
export function sampled(c: OtelConfig['sampling'], traceId: string, parentFlags: number | undefined): boolean {
  if (parentFlags !== undefined && c.follow_parent) return (parentFlags & 1) === 1;
  if (c.ratio >= 1) return true;
  if (c.ratio <= 0) return false;
  // The low 32 bits of the (random) trace id: every process decides the same for one trace.
  return parseInt(traceId.slice(-8), 16) / 0x1_0000_0000 < c.ratio;
}

function exporterFor(c: OtelConfig): SpanExporter {
  const o = { url: c.endpoint, headers: { ...c.headers }, timeoutMillis: c.timeout_ms, concurrencyLimit: 4 };
  return c.protocol === 'http/json' ? new JsonExporter(o) : new ProtoExporter(o);
}

const ERROR_LOG_MS = 60_000;
const SHUTDOWN_MAX_MS = 3_000;

/** Null when no endpoint is configured. */
export function startSpanExport(c: OtelConfig, deps: SpanExportDeps): SpanExport | null {
  if (!c.endpoint) return null;
  const spansTotal = new Counter({
    name: 'gatelog_otel_spans_total',
    help: 'OpenTelemetry spans of calls, by result: exported, failed (the collector refused or was unreachable), dropped (queue full).',
    labelNames: ['result'] as const,
    registers: [deps.registry],
  });
  const exported = spansTotal.labels('exported');
  const failed = spansTotal.labels('failed');
  const dropped = spansTotal.labels('dropped');
  const inner = deps.exporter ?? exporterFor(c);
  /** Spans handed to the processor and not yet to the exporter: the processor's own queue. */
  let queued = 0;
  let lastError = 0;
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      queued -= spans.length;
      inner.export(spans, (r) => {
        if (r.code === ExportResultCode.SUCCESS) exported.inc(spans.length);
        else {
          failed.inc(spans.length);
          const now = Date.now();
          if (now - lastError > ERROR_LOG_MS) {
            lastError = now;
            deps.logger.warn({ err: r.error, spans: spans.length, code: 'GATELOG_ERR_OTEL_EXPORT' }, 'OpenTelemetry span export failed');
          }
        }
        done(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  const processor = new BatchSpanProcessor({
    exporter: counting,
    maxQueueSize: c.max_queue_size,
    maxExportBatchSize: c.max_batch_size,
    scheduledDelayMillis: c.batch_delay_ms,
    exportTimeoutMillis: c.timeout_ms,
  });
  const env = spanEnv(c.service_name, c.bodies ? c.body_max_bytes : 0);
  // Events waiting for their spans to be built (bounded like the span queue).
  let pending: LlmCallEvent[] = [];
  let scheduled = false;
  const build = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    for (const e of batch) {
      let spans: ReadableSpan[];
      try {
        spans = eventSpans(e, env);
      } catch (err) {
        deps.logger.warn({ err, request_id: e.request_id, code: 'GATELOG_ERR_OTEL_SPAN' }, 'could not build the OpenTelemetry spans of a call');
        continue;
      }
      for (const s of spans) {
        if (queued >= c.max_queue_size) {
          dropped.inc();
          continue;
        }
        queued++;
        processor.onEnd(s);
      }
    }
  };
  const isSampled = (requestId: string, traceId: string, parentTraceId: string | undefined, parentFlags: number | undefined): boolean =>
    sampled(c.sampling, otelTraceId(requestId, traceId, parentTraceId), parentFlags);
  const api: SpanExport = {
    tap(publish) {
      return (e) => {
        publish(e);
        if (!isSampled(e.request_id, e.trace_id, e.parent_trace_id, e.trace_flags)) return;
        if (pending.length + queued >= c.max_queue_size) {
          dropped.inc(1 + e.attempts.length);
          return;
        }
        pending.push(e);
        if (!scheduled) {
          scheduled = true;
          setImmediate(build);
        }
      };
    },
    install(app) {
      // preParsing: after every scope's onRequest hooks (the request id is stamped), before
      // the body is read, so answers to bad bodies carry it too. Set on the raw response:
      // relayed answers write their head there directly.
      app.addHook('preParsing', (req, reply, payload, done) => {
        const id = req.gatelog?.id;
        if (id !== undefined && req.url.startsWith('/v1/')) {
          const m = readRequestMeta(req.headers);
          const traceId = otelTraceId(id, m.trace_id, m.w3c?.traceId);
          reply.raw.setHeader('traceparent', formatTraceparent(traceId, callSpanId(id), isSampled(id, m.trace_id, m.w3c?.traceId, m.w3c?.flags)));
        }
        done(null, payload);
      });
      app.addHook('onClose', async () => {
        await api.shutdown();
      });
    },
    async flush() {
      build();
      await processor.forceFlush();
    },
    async shutdown() {
      build();
      // A last flush, but a dead collector must not hold the process's exit.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(c.timeout_ms, SHUTDOWN_MAX_MS))));
      await Promise.race([processor.shutdown().catch(() => undefined), limit]);
      clearTimeout(timer);
    },
  };
  return api;
}

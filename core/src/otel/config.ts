// The `otel:` section of gatelog.yaml: where the proxy exports one OpenTelemetry span per call
// (and one child span per attempt) over OTLP/HTTP. Absent or without an endpoint: no export.
import { z } from 'zod';

export const OTEL_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

export const OtelConfig = z.object({
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. Empty: export off. */
  endpoint: z.url({ protocol: /^https?$/ }).or(z.literal('')).default(''),
  protocol: z.enum(OTEL_PROTOCOLS).default('http/protobuf'),
  /** Sent with every export (e.g. an API key of the tracing backend); `${VAR}` keeps it out of the file. */
  headers: z.record(z.string().min(1).max(256), z.string().max(8192)).default({}),
  service_name: z.string().min(1).max(256).default('gatelog'),
  /** Request and response bodies as span attributes (`gen_ai.input.messages` …): off, they may hold personal data. */
  bodies: z.boolean().default(false),
  /** Bytes of each body kept when `bodies` is on. */
  body_max_bytes: z.number().int().positive().max(1 << 20).default(16 * 1024),
  sampling: z.object({
    /** Calls with a W3C traceparent are exported when its sampled flag is set, and only then. */
    follow_parent: z.boolean().default(true),
    /** Share of the other calls exported, decided by trace id (so all calls of one trace agree). */
    ratio: z.number().min(0).max(1).default(1),
  }).strict().prefault({}),
  /** Spans waiting to be sent; past this they are dropped (counted), never slowing a call. */
  max_queue_size: z.number().int().min(1).max(1_000_000).default(4096),
  max_batch_size: z.number().int().min(1).max(100_000).default(512),
  /** A batch leaves at least this often (ms). */
  batch_delay_ms: z.number().int().min(1).max(600_000).default(1000),
  /** One export request's time limit (ms). */
  timeout_ms: z.number().int().min(1).max(600_000).default(10_000),
}).strict().superRefine((c, ctx) => {
  if (c.max_batch_size > c.max_queue_size) ctx.addIssue({ code: 'custom', path: ['max_batch_size'], message: 'must not exceed max_queue_size' });
});
export type OtelConfig = z.infer<typeof OtelConfig>;

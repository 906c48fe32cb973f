// The `audit:` section of gatelog.yaml: sinks the audit trail is streamed to (a SIEM's HTTP
// intake, an OpenTelemetry collector), so a copy lives outside the reach of gatelog's own
// operators. Sink URLs, headers and secrets come from the file (as ${VAR}); they never reach
// the store, a log line or the UI (only a sink's `name` does).
import { z } from 'zod';
import { OTEL_PROTOCOLS } from '../otel/config.ts';

const SinkName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a name of at most 64 letters, digits and . _ -');
const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, 'expected an HTTP header name');
const Headers = z.record(HeaderName, z.string().max(8192)).default({});

/** How a webhook batch's body is shaped (audit-stream/payload.ts). */
export const WEBHOOK_FORMATS = ['json', 'splunk_hec', 'datadog'] as const;

const common = {
  /** Names the sink in metrics, logs and its durable cursor: renaming a sink starts it over. */
  name: SinkName,
  /** Sent with every batch, e.g. `Authorization: Splunk ${HEC_TOKEN}` or `DD-API-KEY`. */
  headers: Headers,
  /** Rows per request. */
  batch_rows: z.number().int().min(1).max(10_000).default(500),
};

export const WebhookSink = z.object({
  kind: z.literal('webhook'),
  ...common,
  url: HttpUrl,
  format: z.enum(WEBHOOK_FORMATS).default('json'),
  /** Signs each body: `x-gatelog-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, as alert webhooks. */
  secret: z.string().min(16, 'at least 16 characters').optional(),
}).strict();

export const OtlpSink = z.object({
  kind: z.literal('otlp'),
  ...common,
  /** OTLP/HTTP logs URL, e.g. http://collector:4318/v1/logs. */
  endpoint: HttpUrl,
  protocol: z.enum(OTEL_PROTOCOLS).default('http/protobuf'),
  service_name: z.string().min(1).max(256).default('gatelog'),
}).strict();

export const AuditSink = z.discriminatedUnion('kind', [WebhookSink, OtlpSink]);
export type AuditSink = z.infer<typeof AuditSink>;

export const AuditStreamConfig = z.object({
  /** How often the trail is read for rows not yet forwarded (ms). */
  poll_ms: z.number().int().min(50).max(60_000).default(1000),
  /** Attempts per batch before the sink counts as failing; the batch is then retried from the cursor every max_ms, never dropped. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** Backoff between attempts: base_ms · 2^(attempt-1), at most max_ms, with jitter. */
  base_ms: z.number().int().min(1).max(600_000).default(500),
  max_ms: z.number().int().min(1).max(3_600_000).default(30_000),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  /** Several gatelogs on one ClickHouse: how long a silent forwarder keeps a sink before another takes it over (ms). */
  lease_ms: z.number().int().min(1000).max(3_600_000).default(120_000),
  /** A missing seq in a chain is waited for this long (a row not yet visible) before the rows after it are sent (ms). */
  gap_wait_ms: z.number().int().min(0).max(3_600_000).default(60_000),
}).strict();
export type AuditStreamConfig = z.infer<typeof AuditStreamConfig>;

export const AuditConfig = z.object({
  sinks: z.array(AuditSink).max(20).default([]),
  stream: AuditStreamConfig.prefault({}),
}).strict().superRefine((a, ctx) => {
  const names = new Set<string>();
  a.sinks.forEach((s, i) => {
    if (names.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sinks', i, 'name'], message: `duplicate sink name "${s.name}"` });
    names.add(s.name);
  });
  if (a.stream.base_ms > a.stream.max_ms) ctx.addIssue({ code: 'custom', path: ['stream', 'base_ms'], message: 'must not exceed max_ms' });
});
export type AuditConfig = z.infer<typeof AuditConfig>;

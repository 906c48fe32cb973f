// Alert rules and channels (the `alerts:` section of gatelog.yaml, and rules made in the UI).
// A rule watches one signal over a window, compares it with a threshold, and tells its channels
// once when the condition starts (fired) and once when it clears (resolved); `cooldown_s`
// keeps a flapping condition from firing again too soon. Channels are config-only, so webhook
// URLs and signing secrets live in gatelog.yaml (as ${VAR}) and never in the store or the UI.
import { z } from 'zod';

/**
 * What each kind measures, and what `threshold` means for it:
 * - budget: % of a key's or team's budget spent in its period (50, 80, 100)
 * - spend_spike: factor over the median of the previous buckets (bucket = window_s), as the spend chart's spike markers
 * - error_rate: errored calls / calls in the window, 0–1
 * - p95_latency: p95 latency in the window, ms
 * - provider_down: failed attempts / attempts per provider in the window, 0–1
 * - ingest_lag: this process's ingest lag (bytes of the local event log, or Kafka messages behind)
 * - spool: this process's Kafka spool backlog, bytes
 */
export const ALERT_KINDS = ['budget', 'spend_spike', 'error_rate', 'p95_latency', 'provider_down', 'ingest_lag', 'spool'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ChannelName = z.string().regex(RULE_ID, 'a name of letters, digits and . _ -');

export const AlertScope = z.object({
  model: z.string().min(1).max(200).optional(),
  key: z.string().min(1).max(128).optional(),
  team: z.string().min(1).max(128).optional(),
}).strict();
export type AlertScope = z.infer<typeof AlertScope>;

export const AlertRule = z.object({
  /** Stable id (events and state are kept under it). */
  id: z.string().regex(RULE_ID, 'an id of letters, digits and . _ - (at most 64)'),
  name: z.string().min(1).max(200).optional(),
  kind: z.enum(ALERT_KINDS),
  threshold: z.number().nonnegative(),
  /** The window the signal is measured over (budget: ignored, the budget period counts). */
  window_s: z.number().int().min(10).max(7 * 86_400).default(300),
  /** After a firing, the same rule and subject fire again no sooner than this. */
  cooldown_s: z.number().int().min(0).max(7 * 86_400).default(900),
  /** Rates (error_rate, provider_down) need at least this many calls/attempts in the window. */
  min_calls: z.number().int().min(1).default(10),
  /** spend_spike: a bucket below this many USD is never a spike. */
  min_usd: z.number().nonnegative().default(1),
  scope: AlertScope.default({}),
  /** Channel names from `alerts.channels`; empty: recorded in the history only. */
  channels: z.array(ChannelName).max(20).default([]),
  enabled: z.boolean().default(true),
}).strict();
export type AlertRule = z.infer<typeof AlertRule>;
export type AlertRuleInput = z.input<typeof AlertRule>;

const WebhookUrl = z.url({ protocol: /^https?$/ });

export const AlertChannel = z.discriminatedUnion('kind', [
  /** Slack incoming webhook (or anything taking Slack's `{"text", "blocks"}`). */
  z.object({ kind: z.literal('slack'), url: WebhookUrl }).strict(),
  /** Generic JSON, signed: `x-gatelog-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`. */
  z.object({ kind: z.literal('webhook'), url: WebhookUrl, secret: z.string().min(16, 'at least 16 characters') }).strict(),
]);
export type AlertChannel = z.infer<typeof AlertChannel>;

export const AlertsConfig = z.object({
  /** How often rules are evaluated. */
  interval_s: z.number().min(0.05).max(3600).default(30),
  channels: z.record(ChannelName, AlertChannel).default({}),
  rules: z.array(AlertRule).max(500).default([]),
  delivery: z.object({
    /** Attempts per message and channel (first try included); retried on 5xx, 429, timeouts and network errors. */
    attempts: z.number().int().min(1).max(10).default(5),
    /** Exponential backoff: base_ms · 2^(attempt-1), at most max_ms. */
    base_ms: z.number().int().min(1).default(1000),
    max_ms: z.number().int().min(1).default(60_000),
    timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
  }).strict().prefault({}),
}).strict().superRefine((a, ctx) => {
  const ids = new Set<string>();
  a.rules.forEach((r, i) => {
    if (ids.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
    ids.add(r.id);
    r.channels.forEach((c, k) => {
      if (!(c in a.channels)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'channels', k], message: `unknown channel "${c}" (configured: ${Object.keys(a.channels).join(', ') || 'none'})` });
    });
  });
});
export type AlertsConfig = z.infer<typeof AlertsConfig>;

/** A URL as the UI and logs may show it: scheme and host only. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '…';
  }
}

/** What `threshold` is in, for messages and the UI. */
export const THRESHOLD_UNIT: Record<AlertKind, string> = {
  budget: '% of budget',
  spend_spike: '× median',
  error_rate: 'error rate (0–1)',
  p95_latency: 'ms',
  provider_down: 'failed attempts (0–1)',
  ingest_lag: 'behind (bytes or messages)',
  spool: 'bytes',
};

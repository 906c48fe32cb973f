// Which upstream failures are worth another attempt, how long to wait before it (exponential
// backoff with jitter), and what an upstream's Retry-After asks for. Pure: clock and random in.
import type { IncomingHttpHeaders } from 'node:http';

/** 429 rate limited, 5xx transient, 529 Anthropic overloaded. 400/401/403/404 are the caller's, never retried. */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504, 529]);

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUS.has(status);

/** Error classes (errors.ts classifyUpstreamError and the relay's own timers) that mean "try again". */
const RETRYABLE_CLASSES = new Set(['upstream_unavailable', 'upstream_timeout', 'upstream_idle_timeout', 'upstream_error', 'upstream_empty_response']);

export const isRetryableClass = (errorClass: string): boolean => RETRYABLE_CLASSES.has(errorClass);

/** Longest Retry-After we take seriously; anything longer is treated as "not within this call". */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/**
 * Milliseconds the upstream asked us to wait: `retry-after-ms` (OpenAI), `retry-after` as
 * delta-seconds or as an HTTP-date (RFC 9110 §10.2.3). null when absent or unparseable.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, wallNow: number): number | null {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.min(MAX_RETRY_AFTER_MS, Number(ms));
  const v = headers['retry-after'];
  if (typeof v !== 'string' || v.length === 0) return null;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.min(MAX_RETRY_AFTER_MS, Number(t) * 1000);
  const at = Date.parse(t);
  if (Number.isNaN(at)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - wallNow));
}

export { backoffMs, type Backoff } from '@gatelog/core/backoff';

// What governance answers when it refuses a request. The request path turns it into the
// client's error shape (OpenAI `{"error":{message,type,code}}` or Anthropic's) with `status`.
// Messages never contain the presented key or any other secret.

export type RefusalType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'budget_exceeded'
  /** OpenAI's 429 bodies use the limited dimension as the type. */
  | 'requests'
  | 'tokens'
  | 'service_unavailable';

export interface Refusal {
  status: number;
  type: RefusalType;
  /** Stable, machine-matchable. */
  code: string;
  message: string;
  /** Seconds for `Retry-After` (429/503), when a retry can succeed. */
  retryAfterSeconds?: number | undefined;
  /** Extra response headers (e.g. x-ratelimit-*). */
  headers?: Record<string, string> | undefined;
}

/** Shared counters (Redis) down with `state.on_failure: closed`: 503 with Retry-After. */
export const STATE_UNAVAILABLE: Refusal = {
  status: 503,
  type: 'service_unavailable',
  code: 'state_unavailable',
  message: 'Rate limit and budget state is unavailable and gatelog is configured to fail closed; retry shortly.',
  retryAfterSeconds: 1,
};

/** The response headers a refusal carries: its own (x-ratelimit-*) and Retry-After. */
export function refusalHeaders(r: Refusal): Record<string, string> {
  return r.retryAfterSeconds === undefined ? { ...r.headers } : { ...r.headers, 'retry-after': String(r.retryAfterSeconds) };
}

export type Admission<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** Client-supplied text (a model alias) shown in a message: printable, bounded, quoted. */
export function quoteUserText(s: string, max = 64): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}…` : clean);
}

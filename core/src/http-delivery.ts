// POST with bounded retries, shared by alert webhooks and audit sinks: retried with
// exponential backoff (jitter optional) on 5xx, 429, timeouts and network errors, at most
// `attempts` times; other answers are final. Every attempt is reported with an error *code*
// only: the URL (which often carries a token), headers and secrets never leave this module.
import { backoffMs } from './backoff.ts';

export interface RetryPolicy {
  /** Attempts (the first included). */
  attempts: number;
  base_ms: number;
  max_ms: number;
  /** One attempt's time limit. */
  timeout_ms: number;
}

export interface DeliveryAttempt {
  attempt: number;
  http_status: number;
  /** '' on success; `http_<status>`, `timeout` or a network error code otherwise. */
  error: string;
  duration_ms: number;
  final: boolean;
}

export interface PostRequest {
  body: string | Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

export interface PostOptions {
  policy: RetryPolicy;
  record: (a: DeliveryAttempt) => Promise<void> | void;
  /** Stops waiting between attempts (shutdown). */
  signal?: AbortSignal | undefined;
  /** Also ends a request in flight (shutdown, when the message is kept elsewhere and can be resent). */
  cancel?: AbortSignal | undefined;
  now?: (() => number) | undefined;
  /** Jitter source for the backoff; default `() => 1` (no jitter). */
  random?: (() => number) | undefined;
}

/** A stable code for a fetch failure (undici puts the system error code on `cause`). */
export function errorCode(err: unknown): string {
  let e = err as { name?: string; code?: unknown; cause?: unknown } | null;
  for (let i = 0; i < 4 && e; i++) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
    if (typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return 'network_error';
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** POST what `request` builds (per attempt: signatures carry the time); true once answered 2xx. */
export async function postWithRetries(url: string, request: (unixS: number) => PostRequest, o: PostOptions): Promise<boolean> {
  const p = o.policy;
  const random = o.random ?? ((): number => 1);
  for (let attempt = 1; attempt <= p.attempts; attempt++) {
    if (o.signal?.aborted) return false;
    const { body, headers } = request(Math.floor((o.now ?? Date.now)() / 1000));
    const t0 = performance.now();
    let status = 0;
    let error = '';
    try {
      const timeout = AbortSignal.timeout(p.timeout_ms);
      const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: o.cancel ? AbortSignal.any([timeout, o.cancel]) : timeout });
      status = res.status;
      await res.body?.cancel();
      if (status < 200 || status >= 300) error = `http_${status}`;
    } catch (err) {
      error = errorCode(err);
    }
    const again = error !== '' && (status === 0 || retryable(status)) && attempt < p.attempts;
    await o.record({ attempt, http_status: status, error, duration_ms: performance.now() - t0, final: !again });
    if (!error) return true;
    if (!again) return false;
    await sleep(backoffMs(attempt, p, random), o.signal);
  }
  return false;
}

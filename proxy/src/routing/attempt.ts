// One try against one deployment, up to the point where the client could first see a byte:
// dispatch, wait for headers and the first body chunk (bounded by the per-try time-to-first-
// byte timeout, itself bounded by the call's deadline), or buffer an HTTP error answer so the
// relay can decide to retry, fall back, or pass it on. Nothing is written to the client here.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { ProxyError, classifyUpstreamError } from '../errors.ts';
import type { Provider, UpstreamCall, UpstreamResponse } from '../providers/types.ts';
import { isRetryableClass, isRetryableStatus, retryAfterMs } from './retry-policy.ts';
import { isContextWindowError } from './context-window.ts';
import { readCapped } from '../read-capped.ts';

export interface AttemptOk {
  ok: true;
  up: UpstreamResponse;
  /** First body chunk (the stream is paused after it); null when the body was empty. */
  first: Buffer | null;
  ended: boolean;
  early: EarlyEvents;
  detach: () => void;
  /** Dispatch → first body byte (or end), ms. */
  latencyMs: number;
}

export interface AttemptFailed {
  ok: false;
  status: number;
  errorClass: string;
  message: string;
  retryable: boolean;
  contextWindow: boolean;
  retryAfterMs: number | null;
  latencyMs: number;
  /** The upstream's own HTTP error answer, buffered, to pass on unchanged when nothing else is tried. */
  response: { headers: IncomingHttpHeaders; body: Buffer } | null;
}

export type AttemptResult = AttemptOk | AttemptFailed;

export interface AttemptLimits {
  /** Time allowed until the first body byte, ms (already bounded by the deadline). */
  ttfbMs: number;
  /** The limit above is the call's deadline rather than the per-try timeout. */
  deadlineBound: boolean;
  /** Which limit it is, for the error message (default: the time-to-first-byte timeout). */
  what?: string;
}

/** Error answers bigger than this are not buffered whole (kept for the record up to here). */
const ERROR_BODY_CAP = 1 << 20;

/**
 * What happened to the body between the first chunk and the relay taking it over (the end of
 * a one-chunk body is emitted on the next tick, before the relay's listeners exist).
 */
export interface EarlyEvents {
  ended: boolean;
  error: unknown;
  closed: boolean;
}

interface FirstChunk {
  first: Buffer | null;
  ended: boolean;
  early: EarlyEvents;
  /** Remove the listeners that fill `early`; the relay attaches its own. */
  detach: () => void;
}

function firstChunk(body: Readable): Promise<FirstChunk> {
  return new Promise((resolve, reject) => {
    const early: EarlyEvents = { ended: false, error: null, closed: false };
    let settled = false;
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      body.off('data', onData);
      body.pause();
      settled = true;
      resolve({ first: c, ended: false, early, detach });
    };
    const onEnd = (): void => {
      if (settled) {
        early.ended = true;
        return;
      }
      settled = true;
      detach();
      resolve({ first: null, ended: true, early, detach });
    };
    const onError = (err: unknown): void => {
      if (settled) {
        early.error = err;
        return;
      }
      settled = true;
      detach();
      reject(err);
    };
    const onClose = (): void => {
      if (settled) {
        early.closed = true;
        return;
      }
      settled = true;
      detach();
      reject(Object.assign(new Error('upstream closed before the body'), { code: 'UND_ERR_SOCKET' }));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Run one attempt. `ac` is the attempt's controller: the relay aborts it when the client leaves. */
export async function runAttempt(provider: Provider, call: Omit<UpstreamCall, 'signal'>, ac: AbortController, limits: AttemptLimits, wallNow: number): Promise<AttemptResult> {
  const t0 = performance.now();
  let timedOut = false;
  let up: UpstreamResponse | null = null;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
    up?.body.destroy();
  }, Math.max(1, limits.ttfbMs));
  const fail = (err: unknown): AttemptFailed => {
    const latencyMs = performance.now() - t0;
    if (timedOut) {
      const cls = limits.deadlineBound ? 'deadline_exceeded' : 'upstream_timeout';
      const what = limits.deadlineBound ? 'the call deadline' : (limits.what ?? 'the time-to-first-byte timeout');
      return { ok: false, status: 504, errorClass: cls, message: `no response from upstream within ${Math.round(limits.ttfbMs)} ms (${what})`, retryable: !limits.deadlineBound, contextWindow: false, retryAfterMs: null, latencyMs, response: null };
    }
    const f = classifyUpstreamError(err);
    return { ok: false, status: f.status, errorClass: f.errorClass, message: f.message, retryable: isRetryableClass(f.errorClass), contextWindow: false, retryAfterMs: null, latencyMs, response: null };
  };
  try {
    try {
      up = await provider.call({ ...call, signal: ac.signal });
    } catch (err) {
      // The adapter refused the call before sending anything (untranslatable input): the client's 4xx.
      if (err instanceof ProxyError) throw err;
      return fail(err);
    }
    if (up.status >= 400) {
      let body: Buffer;
      try {
        body = await readCapped(up.body, ERROR_BODY_CAP);
      } catch (err) {
        return fail(err);
      }
      const status = up.status;
      return {
        ok: false,
        status,
        errorClass: `http_${status}`,
        message: `upstream answered ${status}`,
        retryable: isRetryableStatus(status),
        contextWindow: isContextWindowError(status, body),
        retryAfterMs: retryAfterMs(up.headers, wallNow),
        latencyMs: performance.now() - t0,
        response: { headers: up.headers, body },
      };
    }
    try {
      const f = await firstChunk(up.body);
      return { ok: true, up, ...f, latencyMs: performance.now() - t0 };
    } catch (err) {
      up.body.destroy();
      return fail(err);
    }
  } finally {
    clearTimeout(timer);
  }
}

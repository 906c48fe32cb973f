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

export interface AttemptOk {
  ok: true;
  up: UpstreamResponse;
  /** First body chunk (the stream is paused after it); null when the body was empty. */
  first: Buffer | null;
  ended: boolean;
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
}

/** Error answers bigger than this are not buffered whole (kept for the record up to here). */
const ERROR_BODY_CAP = 1 << 20;

function firstChunk(body: Readable): Promise<{ first: Buffer | null; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      done();
      body.pause();
      resolve({ first: c, ended: false });
    };
    const onEnd = (): void => {
      done();
      resolve({ first: null, ended: true });
    };
    const onError = (err: unknown): void => {
      done();
      reject(err);
    };
    const onClose = (): void => {
      done();
      reject(Object.assign(new Error('upstream closed before the body'), { code: 'UND_ERR_SOCKET' }));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}

async function readCapped(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    if (n < ERROR_BODY_CAP) parts.push(c);
    n += c.length;
  }
  return Buffer.concat(parts);
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
      const what = limits.deadlineBound ? 'the call deadline' : 'the time-to-first-byte timeout';
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
        body = await readCapped(up.body);
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
      const { first, ended } = await firstChunk(up.body);
      return { ok: true, up, first, ended, latencyMs: performance.now() - t0 };
    } catch (err) {
      up.body.destroy();
      return fail(err);
    }
  } finally {
    clearTimeout(timer);
  }
}

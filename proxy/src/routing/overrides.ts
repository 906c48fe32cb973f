// Per-request routing overrides by header: x-gatelog-retries, x-gatelog-timeout-ms,
// x-gatelog-attempt-timeout-ms, x-gatelog-fallbacks: off|on. Invalid values are the caller's mistake (400), never ignored.
import type { IncomingHttpHeaders } from 'node:http';
import type { RouterConfig } from '@gatelog/core';
import { badRequest } from '../errors.ts';

export interface RouteOptions {
  /** Extra attempts per alias. */
  retries: number;
  /** The call's total deadline, ms from arrival. */
  totalMs: number;
  fallbacks: boolean;
  /** Time limit of each attempt until its first byte, ms, from the header (0: the configured one or the fair share). */
  attemptMs: number;
  /** Floor of an attempt's fair share of the remaining deadline, ms. */
  attemptMinMs: number;
}

const MAX_RETRIES = 10;

export function defaultRouteOptions(router: RouterConfig): RouteOptions {
  return { retries: router.retries, totalMs: router.timeouts.total_ms, fallbacks: true, attemptMs: 0, attemptMinMs: router.timeouts.attempt_min_ms };
}

function one(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The options for one call. Returns `defaults` itself when no override header is present
 * (the common case allocates nothing). The timeout can only shorten the configured total:
 * the operator's ceiling protects the upstream spend.
 */
export function readRouteOptions(h: IncomingHttpHeaders, defaults: RouteOptions): RouteOptions {
  const r = one(h, 'x-gatelog-retries');
  const t = one(h, 'x-gatelog-timeout-ms');
  const f = one(h, 'x-gatelog-fallbacks');
  const a = one(h, 'x-gatelog-attempt-timeout-ms');
  if (r === undefined && t === undefined && f === undefined && a === undefined) return defaults;
  const out = { ...defaults };
  if (r !== undefined) {
    if (!/^\d{1,2}$/.test(r.trim()) || Number(r) > MAX_RETRIES) {
      throw badRequest('invalid_header', `x-gatelog-retries must be an integer from 0 to ${MAX_RETRIES}.`, 'x-gatelog-retries');
    }
    out.retries = Number(r);
  }
  if (t !== undefined) {
    if (!/^\d{1,10}$/.test(t.trim()) || Number(t) < 1) {
      throw badRequest('invalid_header', 'x-gatelog-timeout-ms must be a positive integer (milliseconds).', 'x-gatelog-timeout-ms');
    }
    out.totalMs = Math.min(defaults.totalMs, Number(t));
  }
  if (a !== undefined) {
    // Bounded by the call's deadline when used, so any positive value is safe.
    if (!/^\d{1,10}$/.test(a.trim()) || Number(a) < 1) {
      throw badRequest('invalid_header', 'x-gatelog-attempt-timeout-ms must be a positive integer (milliseconds).', 'x-gatelog-attempt-timeout-ms');
    }
    out.attemptMs = Number(a);
  }
  if (f !== undefined) {
    const v = f.trim().toLowerCase();
    if (v !== 'off' && v !== 'on') throw badRequest('invalid_header', 'x-gatelog-fallbacks must be "off" or "on".', 'x-gatelog-fallbacks');
    out.fallbacks = v === 'on';
  }
  return out;
}

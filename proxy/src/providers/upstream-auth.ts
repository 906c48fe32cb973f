// Failures to obtain a cloud credential (an AWS credential chain, a Google or Entra token
// endpoint, a metadata server) and the answer they become: the adapter answers in the client's
// API shape, naming the provider, with 401 when the source refused or has nothing, 502 when it
// failed or did not answer in time (so routing may try another deployment). Never a secret in
// the message: only the source's own reason.
import { Readable } from 'node:stream';
import { anthropicTypeForStatus } from '../translate/index.ts';
import type { UpstreamResponse } from './types.ts';
import type { Pool } from 'undici';
import { anthropicErrorJson, parseJson, readAll } from './wire.ts';

/** How long one credential lookup (chain, token exchange, metadata) may take before the call is answered 502. */
export const CREDENTIAL_LOOKUP_MS = 10_000;

/** No credential could be had: `status` is what gatelog answers with. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'GATELOG_ERR_UPSTREAM_AUTH';
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** `work`, or a TokenError (502) naming `what` once `ms` have passed without it settling. */
export function withinLookupTime<T>(work: Promise<T>, what: string, ms = CREDENTIAL_LOOKUP_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TokenError(502, `${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * One request to a credential source (a metadata server, a token endpoint), bounded in time;
 * one that does not answer is a TokenError (502) naming it, `hint` added.
 */
export async function askSource(pool: Pool, what: string, req: { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }, hint = ''): Promise<{ status: number; raw: Buffer }> {
  try {
    const res = await pool.request({ ...req, signal: AbortSignal.timeout(CREDENTIAL_LOOKUP_MS) });
    return { status: res.statusCode, raw: await readAll(res.body) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new TokenError(502, `${what} did not answer (${typeof code === 'string' ? code : (err as Error).name})${hint}`, { cause: err });
  }
}

/** An Anthropic-shaped error answer for a credential failure (adapters translating to OpenAI's shape do so on top). */
export function anthropicAuthFailure(err: TokenError): UpstreamResponse {
  const body = anthropicErrorJson({ type: anthropicTypeForStatus(err.status), message: err.message });
  return { status: err.status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body)]) };
}

/** A bearer token source (Google, Entra ID): kept, renewed shortly before expiry, dropped when refused. */
export interface AccessTokens {
  /** A valid access token (exchanged when there is none, or it is about to expire). */
  get(): Promise<string>;
  /** `token` was refused: the next get() exchanges a new one. */
  refused(token: string): void;
}

/** An access token and how long its issuer says it lives, in ms. */
export interface Exchanged {
  token: string;
  ttlMs: number;
}

/** A token is renewed this long before its issuer says it expires. */
const TOKEN_EARLY_MS = 60_000;

/**
 * The token an `exchange` gives, kept until a minute before it expires; concurrent callers
 * share one exchange, bounded in time; `what` names the source when it times out.
 */
export function cachedTokens(exchange: () => Promise<Exchanged>, what: string, now: () => number): AccessTokens {
  let current: { token: string; renewAt: number } | null = null;
  let pending: Promise<string> | null = null;
  return {
    get() {
      if (current && now() < current.renewAt) return Promise.resolve(current.token);
      pending ??= exchange()
        .then((x) => {
          current = { token: x.token, renewAt: now() + Math.max(0, x.ttlMs - TOKEN_EARLY_MS) };
          return x.token;
        })
        .finally(() => {
          pending = null;
        });
      return withinLookupTime(pending, what);
    },
    refused(token) {
      if (current?.token === token) current = null;
    },
  };
}

/**
 * `send` with a current token; when the API answers 401 (the token was revoked, or expired
 * early) the token is dropped and `send` runs once more with a new one. A token that cannot be
 * had throws TokenError.
 */
export async function sendWithToken<R extends { statusCode: number; body: { dump(): Promise<void> } }>(tokens: AccessTokens, send: (token: string) => Promise<R>): Promise<R> {
  const token = await tokens.get();
  const res = await send(token);
  if (res.statusCode !== 401) return res;
  await res.body.dump();
  tokens.refused(token);
  return send(await tokens.get());
}

/**
 * An OAuth 2.0 token answer's token and lifetime (`expires_in` in seconds, a number or, from
 * Azure's instance metadata, a string), or a TokenError with the issuer's own words (never the
 * request's secrets).
 */
export function tokenAnswer(status: number, raw: Buffer, what: string): Exchanged {
  const v = parseJson(raw) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | undefined;
  if (status >= 400 || typeof v?.access_token !== 'string') {
    const why = [v?.error, v?.error_description].filter((x) => typeof x === 'string').join(': ') || `status ${status}`;
    throw new TokenError(status >= 500 ? 502 : 401, `${what} failed: ${why}`);
  }
  const s = Number(v.expires_in);
  return { token: v.access_token, ttlMs: Number.isFinite(s) && s > 0 ? s * 1000 : 3600_000 };
}

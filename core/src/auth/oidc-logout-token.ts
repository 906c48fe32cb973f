// How gatelog checks an identity provider's logout token (OpenID Connect Back-Channel Logout 1.0
// §2.6, https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation): a JWT signed
// with one of the provider's published keys (an asymmetric algorithm, as its ID tokens), from
// the configured issuer, for this client, issued just now, carrying the back-channel logout
// event, naming a subject and/or a provider session, and with no `nonce` (so an ID token can
// never pass for one). Its `jti` is spent once (ReplayGuard). Every refusal is a stable code;
// no part of a token reaches an error message, a log line or the store.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Asymmetric only: a provider's published keys are public keys (never `none`, never HMAC with the secret). */
export const LOGOUT_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** Longer than any real logout token; a bigger one is refused before it is decoded. */
export const MAX_TOKEN_CHARS = 16_384;
/** A token issued longer ago than this is stale (the spec leaves the window to the client). */
export const MAX_AGE_S = 300;
/** Clocks of gatelog and the provider may disagree this much. */
export const CLOCK_SKEW_S = 60;
const MAX_ID_CHARS = 1024;

export const LOGOUT_REFUSALS = ['malformed', 'bad_signature', 'wrong_issuer', 'wrong_audience', 'expired', 'stale', 'not_logout', 'has_nonce', 'no_subject', 'no_jti', 'replayed'] as const;
export type LogoutRefusal = (typeof LOGOUT_REFUSALS)[number];

/** A logout token gatelog refuses (400); anything else thrown (keys unreachable) is not the token's fault. */
export class LogoutTokenError extends Error {
  override readonly name = 'LogoutTokenError';
  readonly code: LogoutRefusal;
  constructor(code: LogoutRefusal) {
    super(`logout token refused: ${code}`);
    this.code = code;
  }
}

export interface LogoutClaims {
  iss: string;
  sub?: string;
  sid?: string;
  jti: string;
  /** When the provider issued it (ms): sessions opened later are not its to end. */
  issuedAt: number;
  /** Until when (ms) the token could still be accepted: its `jti` is remembered that long. */
  acceptableUntil: number;
}

export interface LogoutExpectation {
  issuer: string;
  clientId: string;
  /** Milliseconds since the epoch. */
  now: number;
}

const idClaim = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS ? v : undefined);

/** The claim checks of §2.6 steps 4–9 on a payload whose signature, issuer and audience are verified. */
export function checkLogoutClaims(p: JWTPayload, expected: LogoutExpectation): LogoutClaims {
  const nowS = expected.now / 1000;
  if (typeof p.iat !== 'number' || !Number.isFinite(p.iat) || p.iat > nowS + CLOCK_SKEW_S || p.iat < nowS - MAX_AGE_S - CLOCK_SKEW_S) throw new LogoutTokenError('stale');
  if (p.exp !== undefined && (typeof p.exp !== 'number' || p.exp <= nowS - CLOCK_SKEW_S)) throw new LogoutTokenError('expired');
  const events = p['events'];
  if (events === null || typeof events !== 'object' || Array.isArray(events)) throw new LogoutTokenError('not_logout');
  const event: unknown = (events as Record<string, unknown>)[BACKCHANNEL_EVENT];
  if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new LogoutTokenError('not_logout');
  if ('nonce' in p) throw new LogoutTokenError('has_nonce');
  const sub = idClaim(p.sub);
  const sid = idClaim(p['sid']);
  if ((p.sub !== undefined && sub === undefined) || (p['sid'] !== undefined && sid === undefined) || (sub === undefined && sid === undefined)) throw new LogoutTokenError('no_subject');
  const jti = idClaim(p.jti);
  if (jti === undefined) throw new LogoutTokenError('no_jti');
  const lastS = Math.max(p.iat + MAX_AGE_S, typeof p.exp === 'number' ? p.exp : 0) + CLOCK_SKEW_S;
  return { iss: expected.issuer, jti, issuedAt: p.iat * 1000, acceptableUntil: Math.ceil(lastS * 1000), ...(sub === undefined ? {} : { sub }), ...(sid === undefined ? {} : { sid }) };
}

/** jose's verdicts on signature, issuer and audience as refusals; anything else is rethrown. */
function refusalOf(err: unknown): LogoutRefusal | undefined {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    return 'malformed';
  }
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSEAlgNotAllowed) return 'bad_signature';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return 'malformed';
  return undefined;
}

/**
 * A verified logout token's claims, or LogoutTokenError. `keys` finds the provider's key for the
 * token's header (jose's remote JWKS in production, a local set in tests); `algorithms` narrows
 * LOGOUT_TOKEN_ALGORITHMS to what the provider says it signs with.
 */
export async function verifyLogoutToken(token: string, keys: JWTVerifyGetKey, expected: LogoutExpectation & { algorithms?: readonly string[] }): Promise<LogoutClaims> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new LogoutTokenError('malformed');
  const allowed: readonly string[] = LOGOUT_TOKEN_ALGORITHMS;
  const algorithms = (expected.algorithms ?? allowed).filter((a) => allowed.includes(a));
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: expected.issuer, audience: expected.clientId, algorithms: algorithms.length > 0 ? algorithms : [...allowed],
      currentDate: new Date(expected.now), clockTolerance: CLOCK_SKEW_S,
    }));
  } catch (err) {
    const code = refusalOf(err);
    if (code === undefined) throw err;
    throw new LogoutTokenError(code);
  }
  return checkLogoutClaims(payload, expected);
}

/** How a UI session remembers the provider session it came from (ui_sessions.oidc_sid_hash): never the `sid` itself. */
export const sidHashOf = (iss: string, sid: string): string => createHash('sha256').update(`${iss} ${sid}`).digest('hex');

/** Each request to the provider's key set gives up after this (ms); a key set is re-read at most this often on an unknown key id. */
const JWKS_TIMEOUT_MS = 10_000;
const JWKS_COOLDOWN_MS = 30_000;
const keySets = new Map<string, JWTVerifyGetKey>();

/** The provider's published keys (its `jwks_uri`), fetched and cached by jose; one cache per URL in this process. */
export function providerKeys(jwksUri: string): JWTVerifyGetKey {
  let keys = keySets.get(jwksUri);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: JWKS_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS });
    keySets.set(jwksUri, keys);
  }
  return keys;
}

/** Spends a logout token's `jti`: true the first time within its acceptable life, false for a replay. */
export interface ReplayGuard {
  firstUse(iss: string, jti: string, until: number): Promise<boolean>;
  /** Un-spends a `jti` whose logout could not be carried out, so the provider's retry is not taken for a replay. */
  release(iss: string, jti: string): Promise<void>;
}

/**
 * This process's memory of spent `jti`s, each kept until its token could no longer be accepted
 * anyway. Bounded: past `max` entries the oldest is forgotten first (to replay it, a caller
 * would first need `max` fresh tokens signed by the provider).
 */
export function memoryReplayGuard(now: () => number = Date.now, max = 100_000): ReplayGuard {
  const spent = new Map<string, number>();
  const sweep = (t: number): void => {
    for (const [k, until] of spent) if (until <= t) spent.delete(k);
  };
  const keyOf = (iss: string, jti: string): string => createHash('sha256').update(`${iss} ${jti}`).digest('hex');
  const firstUse = (iss: string, jti: string, until: number): Promise<boolean> => {
    const t = now();
    const key = keyOf(iss, jti);
    const prior = spent.get(key);
    if (prior !== undefined && prior > t) return Promise.resolve(false);
    if (spent.size >= max) sweep(t);
    while (spent.size >= max) {
      const oldest = spent.keys().next().value;
      if (oldest === undefined) break;
      spent.delete(oldest);
    }
    spent.set(key, until);
    return Promise.resolve(true);
  };
  const release = (iss: string, jti: string): Promise<void> => {
    spent.delete(keyOf(iss, jti));
    return Promise.resolve();
  };
  return { firstUse, release };
}

// Single sign-on through an OpenID Connect provider (`sso.oidc` in gatelog.yaml), with
// openid-client: the authorization code flow with PKCE, `state` and `nonce` (oidc-state.server.ts).
// The library checks the ID token's signature (the provider's published keys), issuer, audience,
// nonce and expiry; core's oidc-account.ts decides who the person is and what they may do.
// The provider's metadata is discovered once and cached; while the provider cannot be reached
// only the SSO button fails (clearly), password and master-key sign-in go on.
// Nothing here logs or stores a token, a code or the client secret.
import * as client from 'openid-client';
import type { OidcConfig } from '@gatelog/core/auth/oidc-config';
import type { Claims } from '@gatelog/core/auth/oidc-account';

/** Discovered metadata is re-read this often (a provider rotating endpoints is rare). */
const METADATA_TTL_MS = 60 * 60 * 1000;
/** Each request to the provider (discovery, token, userinfo) gives up after this, seconds. */
const PROVIDER_TIMEOUT_S = 10;
export const CALLBACK_PATH = '/login/sso/callback';

interface Cached {
  at: number;
  config: Promise<client.Configuration>;
}
const discovered = new WeakMap<OidcConfig, Cached>();

/** The provider's configuration for this client; a failed discovery is not cached. */
export function providerOf(cfg: OidcConfig, now = Date.now()): Promise<client.Configuration> {
  const hit = discovered.get(cfg);
  if (hit && now - hit.at < METADATA_TTL_MS) return hit.config;
  const issuer = new URL(cfg.issuer);
  const config = client.discovery(issuer, cfg.client_id, undefined, client.ClientSecretBasic(cfg.client_secret), {
    timeout: PROVIDER_TIMEOUT_S,
    // http:// is accepted by the config schema for a provider on this machine only.
    ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
  });
  const entry = { at: now, config };
  discovered.set(cfg, entry);
  config.catch(() => {
    if (discovered.get(cfg) === entry) discovered.delete(cfg);
  });
  return config;
}

/** Where the provider sends the browser back: `redirect_url`, else this UI's origin (ORIGIN, or the request's scheme and host). */
export const redirectUrlOf = (cfg: OidcConfig, origin: string): string => cfg.redirect_url ?? new URL(CALLBACK_PATH, origin).href;

export interface Started {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export async function startSignIn(cfg: OidcConfig, redirectUrl: string): Promise<Started> {
  const provider = await providerOf(cfg);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(provider, {
    redirect_uri: redirectUrl,
    scope: cfg.scopes.join(' '),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, state, nonce, verifier };
}

/** Why a callback could not produce verified claims (audited; never the provider's own text). */
export class SsoFailure extends Error {
  override readonly name = 'SsoFailure';
  readonly reason: 'provider_error' | 'provider_unavailable' | 'token_rejected';
  readonly detail: string;
  constructor(reason: SsoFailure['reason'], detail: string) {
    super(`single sign-on failed: ${reason} (${detail})`);
    this.reason = reason;
    this.detail = detail;
  }
}

/**
 * A stable, secret-free description of an error: its code (or its cause's, e.g. ECONNREFUSED
 * under fetch's TypeError) or class, never its message (which may quote a response).
 */
export function codeOf(err: unknown): string {
  const code = (e: unknown): string | undefined => (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined);
  const cause = err instanceof Error ? err.cause : undefined;
  return (code(err) ?? code(cause) ?? (err instanceof Error ? err.name : 'unknown')).slice(0, 64);
}

/**
 * Exchanges the code in `params` and returns the ID token's verified claims, completed from the
 * userinfo endpoint when the ID token lacks the email or the groups claim (some providers put
 * them only there; its `sub` must match the ID token's).
 */
export async function finishSignIn(cfg: OidcConfig, redirectUrl: string, params: URLSearchParams, expected: { state: string; nonce: string; verifier: string }): Promise<Claims> {
  const error = params.get('error');
  if (error !== null) throw new SsoFailure('provider_error', error.replace(/[^\w.-]/g, '').slice(0, 64));
  let provider: client.Configuration;
  try {
    provider = await providerOf(cfg);
  } catch (err) {
    throw new SsoFailure('provider_unavailable', codeOf(err));
  }
  // The response's parameters against the exact redirect URL the request named (not this
  // request's view of its own URL, which a proxy in front may have rewritten).
  const current = new URL(redirectUrl);
  current.search = params.toString();
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(provider, current, {
      pkceCodeVerifier: expected.verifier, expectedState: expected.state, expectedNonce: expected.nonce, idTokenExpected: true,
    });
  } catch (err) {
    throw new SsoFailure('token_rejected', codeOf(err));
  }
  const claims = tokens.claims();
  if (!claims) throw new SsoFailure('token_rejected', 'no_id_token');
  const missing = typeof claims['email'] !== 'string' || !(cfg.groups_claim.split('.')[0]! in claims);
  if (!missing || !provider.serverMetadata().userinfo_endpoint) return claims;
  try {
    const info = await client.fetchUserInfo(provider, tokens.access_token, claims.sub);
    // The ID token's own identity claims stay; userinfo only fills what it lacked.
    return { ...info, ...claims };
  } catch (err) {
    throw new SsoFailure('token_rejected', `userinfo:${codeOf(err)}`);
  }
}

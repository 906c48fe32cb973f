// Logout with the identity provider (`sso.oidc`), both ways.
// - Out of gatelog, then out of the provider (OpenID Connect RP-Initiated Logout 1.0): after
//   /logout ends a single sign-on session, the browser goes to the provider's
//   `end_session_endpoint` with `client_id` and `post_logout_redirect_uri` (this UI's /login),
//   so the next "Sign in with …" asks for credentials again. No `id_token_hint`: gatelog keeps no
//   ID token, so most providers ask the person to confirm. Only with
//   `logout.end_provider_session: true`, and when the provider publishes such an endpoint.
// - Out of the provider, so out of gatelog (OpenID Connect Back-Channel Logout 1.0): the provider
//   POSTs a signed logout token to /login/sso/backchannel-logout; once it passes every check of
//   core's oidc-logout-token.ts and its `jti` is spent (oidc-logout-replay.server.ts), the
//   sessions opened from that provider session (`sid`), or else every single sign-on session of
//   that person (`sub`), opened before the token was issued, are revoked — in every UI process
//   within session.server.ts's CACHE_MS — and audited (`signout`, `via: backchannel`). A bad
//   token is a 400 with an OAuth error body; only gatelog's own trouble (provider keys or store
//   unreachable) is a 503, so the provider retries.
// No token, nor any part of one, is logged, stored or audited.
import * as client from 'openid-client';
import type { RequestEvent } from '@sveltejs/kit';
import type { OidcConfig } from '@gatelog/core/auth/oidc-config';
import { subjectOf } from '@gatelog/core/auth/oidc-account';
import { CLOCK_SKEW_S, LogoutTokenError, MAX_TOKEN_CHARS, providerKeys, sidHashOf, verifyLogoutToken, type LogoutClaims } from '@gatelog/core/auth/oidc-logout-token';
import type { OidcSessionMatch, SessionRecord } from '@gatelog/core/store/sessions';
import { userByOidcSubject } from '@gatelog/core/store/users';
import type { UiContext } from '@gatelog/core/ui-context';
import { auditUi } from '#lib/server/audit.server.ts';
import { sessionsFor } from '#lib/server/session.server.ts';
import { codeOf, providerOf, redirectUrlOf } from '#lib/server/oidc.server.ts';
import { replayGuardFor } from '#lib/server/oidc-logout-replay.server.ts';

/** Where the provider sends the browser after its logout: /login on the origin the sign-in callback uses. */
export const postLogoutUrlOf = (cfg: OidcConfig, origin: string): string => new URL('/login', redirectUrlOf(cfg, origin)).href;

/** The provider's end-session URL for a person leaving gatelog, or undefined (switched off, none published, provider unreachable). */
export async function endSessionUrl(cfg: OidcConfig, origin: string): Promise<string | undefined> {
  if (!cfg.logout.end_provider_session) return undefined;
  let provider: client.Configuration;
  try {
    provider = await providerOf(cfg);
  } catch (err) {
    console.warn(`gatelog ui: signed out of gatelog only: the identity provider's metadata could not be read from ${cfg.issuer} (${codeOf(err)})`);
    return undefined;
  }
  if (!provider.serverMetadata().end_session_endpoint) return undefined;
  return client.buildEndSessionUrl(provider, { post_logout_redirect_uri: postLogoutUrlOf(cfg, origin) }).href;
}

const json = (status: number, body: object): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
/** Back-Channel Logout §2.8: a refused token is a 400 with an OAuth 2.0 error body. */
const refused = (description: string): Response => json(400, { error: 'invalid_request', error_description: description });
const unavailable = (): Response => json(503, { error: 'temporarily_unavailable', error_description: 'gatelog could not complete the logout; try again' });

type Event = Pick<RequestEvent, 'request' | 'getClientAddress'>;
type LogoutContext = UiContext & { oidc: OidcConfig };

/** The logout_token of a form-encoded body, or why there is none. */
async function logoutTokenOf(request: Request): Promise<string | { refused: string }> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return { refused: 'expected an application/x-www-form-urlencoded body' };
  let body: string;
  try {
    body = await request.text();
  } catch {
    return { refused: 'the body could not be read' };
  }
  if (body.length > MAX_TOKEN_CHARS * 2) return { refused: 'the body is too large' };
  const tokens = new URLSearchParams(body).getAll('logout_token');
  if (tokens.length !== 1 || !tokens[0]) return { refused: 'expected exactly one logout_token' };
  return tokens[0];
}

/** Which sessions a verified token names: those of its provider session, else all of its subject's, opened before it was issued. */
function matchOf(c: LogoutClaims): OidcSessionMatch {
  const subject = c.sub === undefined ? undefined : subjectOf(c.iss, c.sub);
  const openedBy = new Date(c.issuedAt + CLOCK_SKEW_S * 1000);
  if (c.sid !== undefined) return { sidHash: sidHashOf(c.iss, c.sid), openedBy, ...(subject === undefined ? {} : { subject }) };
  return { subject: subject!, openedBy };
}

/** One audit row per person whose sessions ended (or one naming whom the token was for, when none were live). */
async function auditLogout(ctx: LogoutContext, event: Event, c: LogoutClaims, ended: SessionRecord[]): Promise<void> {
  const by = c.sid !== undefined ? 'sid' : 'sub';
  const people = new Map<string, SessionRecord[]>();
  for (const s of ended) people.set(s.subject, [...(people.get(s.subject) ?? []), s]);
  if (people.size === 0) {
    const person = c.sub === undefined ? undefined : await userByOidcSubject(ctx.store, subjectOf(c.iss, c.sub)).catch(() => undefined);
    await auditUi(ctx.store, event, {
      actor: person?.email ?? 'sso', role: person?.role ?? '', action: 'signout', targetType: 'account', target: person?.id ?? '',
      details: { via: 'backchannel', by, sessions_ended: 0 },
    });
    return;
  }
  for (const [id, sessions] of people) {
    const first = sessions[0]!;
    await auditUi(ctx.store, event, { actor: first.email, role: first.role, action: 'signout', targetType: 'account', target: id, details: { via: 'backchannel', by, sessions_ended: sessions.length } });
  }
}

/** POST /login/sso/backchannel-logout. */
export async function backchannelLogout(ctx: LogoutContext, event: Event): Promise<Response> {
  const token = await logoutTokenOf(event.request);
  if (typeof token !== 'string') return refused(token.refused);
  let provider: client.Configuration;
  try {
    provider = await providerOf(ctx.oidc);
  } catch (err) {
    console.warn(`gatelog ui: back-channel logout: the identity provider's metadata could not be read from ${ctx.oidc.issuer} (${codeOf(err)})`);
    return unavailable();
  }
  const meta = provider.serverMetadata();
  if (!meta.jwks_uri) {
    console.warn('gatelog ui: back-channel logout: the identity provider publishes no jwks_uri, so its logout tokens cannot be verified');
    return unavailable();
  }
  let claims: LogoutClaims;
  try {
    claims = await verifyLogoutToken(token, providerKeys(meta.jwks_uri), {
      issuer: meta.issuer, clientId: ctx.oidc.client_id, now: Date.now(), ...(meta.id_token_signing_alg_values_supported ? { algorithms: meta.id_token_signing_alg_values_supported } : {}),
    });
  } catch (err) {
    if (err instanceof LogoutTokenError) {
      console.warn(`gatelog ui: back-channel logout refused: ${err.code}`);
      return refused(err.message);
    }
    console.warn(`gatelog ui: back-channel logout: the identity provider's keys could not be read (${codeOf(err)})`);
    return unavailable();
  }
  const guard = replayGuardFor(ctx);
  if (!(await guard.firstUse(claims.iss, claims.jti, claims.acceptableUntil))) {
    console.warn('gatelog ui: back-channel logout refused: replayed');
    return refused('logout token refused: replayed');
  }
  let ended: SessionRecord[];
  try {
    ended = await sessionsFor(ctx).revokeOidc(matchOf(claims), 'provider_logout');
  } catch (err) {
    await guard.release(claims.iss, claims.jti);
    console.error(`gatelog ui: back-channel logout: sessions could not be revoked (${codeOf(err)})`);
    return unavailable();
  }
  await auditLogout(ctx, event, claims, ended);
  return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
}

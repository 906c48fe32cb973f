// The two ends of a single sign-on round trip, as the /login/sso routes run them. Start: a
// signed state cookie (oidc-state.server.ts) and a redirect to the provider. Callback: the
// cookie is spent, the provider's answer verified (oidc.server.ts), the person found, created
// or linked and given the provider's role and teams (core's oidc-account.ts; with SCIM, its
// groups include those the provider provisioned the person into, and with `provisioned_only`
// nobody else gets in), a session opened exactly as a password sign-in opens one (remembering
// the provider's subject and session, `sid` hashed, for back-channel logout:
// oidc-logout.server.ts), and every outcome audited (`method: oidc`). A refusal comes back to
// /login as a reason code (`?sso_error=no_role`) that the page explains; no token, code or
// provider text ever reaches a URL, a log line or the audit trail.
import { redirect, type RequestEvent } from '@sveltejs/kit';
import { decideAccount, identityOf } from '@gatelog/core/auth/oidc-account';
import { sidHashOf } from '@gatelog/core/auth/oidc-logout-token';
import type { OidcConfig } from '@gatelog/core/auth/oidc-config';
import { userByEmail } from '@gatelog/core/store/users';
import { groupNamesOf } from '@gatelog/core/store/scim-groups';
import type { UiContext } from '@gatelog/core/ui-context';
import { auditUi, clientIp } from '#lib/server/audit.server.ts';
import { subjectOf } from '#lib/server/accounts.server.ts';
import { safeNext, sessionsFor, startSession } from '#lib/server/session.server.ts';
import { IP_POLICY } from '#lib/server/signin-limit.server.ts';
import { signInLimitsFor } from '#lib/server/signin-limit-shared.server.ts';
import { uiWrites } from '#lib/server/ui-writes.server.ts';
import { SSO_COOKIE, SSO_COOKIE_PATH, SSO_STATE_TTL_MS, openState, sealState } from '#lib/server/oidc-state.server.ts';
import { onwardPage } from '#lib/server/onward.server.ts';
import { SsoFailure, codeOf, finishSignIn, redirectUrlOf, startSignIn } from '#lib/server/oidc.server.ts';

/** What /login says for each reason a single sign-on came back without a session. */
const MESSAGES: Readonly<Record<string, string>> = {
  unavailable: 'Single sign-on is unavailable right now: gatelog cannot reach the identity provider. Try again shortly, or sign in another way.',
  bad_state: 'That single sign-on attempt could not be matched to this browser (it expired, was already used, or did not start here). Please start again.',
  provider_error: 'The identity provider did not sign you in. Please try again.',
  provider_unavailable: 'Single sign-on is unavailable right now: gatelog cannot reach the identity provider. Try again shortly.',
  token_rejected: 'The identity provider\'s answer could not be verified, so you were not signed in. Please try again, or ask your administrator.',
  no_email: 'Your identity provider did not give gatelog an email address for you. Ask your administrator.',
  email_unverified: 'Your identity provider says your email address is not verified. Verify it there, then try again.',
  domain_refused: 'Accounts of your email domain cannot sign in to this gatelog. Ask your administrator.',
  no_role: 'You are signed in at your identity provider, but none of your groups gives you a role in gatelog. Ask your administrator to add you to one of the groups gatelog maps to a role.',
  no_team: 'You are signed in at your identity provider, but none of your groups gives you a team in gatelog. Ask your administrator to add you to one of the groups gatelog maps to a team.',
  disabled: 'Your gatelog account is disabled. Ask an administrator.',
  identity_mismatch: 'Your email address belongs to another identity in gatelog. Ask an administrator.',
  not_provisioned: 'You are signed in at your identity provider, but this gatelog admits only people the provider has provisioned, and you are not one of them. Ask your administrator to assign you to gatelog at the identity provider.',
  locked: 'Too many failed sign-ins from your address. Try again later.',
};

export const ssoErrorMessage = (code: string | null): string | null => (code !== null && Object.hasOwn(MESSAGES, code) ? MESSAGES[code]! : null);

type Event = Pick<RequestEvent, 'cookies' | 'request' | 'url' | 'getClientAddress'>;
type SsoContext = UiContext & { oidc: OidcConfig; masterKey: string };

const cookieOptions = (event: Event) => ({ path: SSO_COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: event.url.protocol === 'https:' });

/** GET /login/sso: to the provider, remembering `next` (checked as the password sign-in checks it). */
export async function startSso(ctx: SsoContext, event: Event): Promise<Response> {
  const next = safeNext(event.url.searchParams.get('next'));
  let started: Awaited<ReturnType<typeof startSignIn>>;
  try {
    started = await startSignIn(ctx.oidc, redirectUrlOf(ctx.oidc, event.url.origin));
  } catch (err) {
    console.error(`gatelog ui: single sign-on: the identity provider's metadata could not be read from ${ctx.oidc.issuer} (${codeOf(err)})`);
    redirect(303, `/login?sso_error=unavailable&next=${encodeURIComponent(next)}`);
  }
  const { url, state, nonce, verifier } = started;
  event.cookies.set(SSO_COOKIE, sealState(ctx.masterKey, { state, nonce, verifier, next, exp: Date.now() + SSO_STATE_TTL_MS }), { ...cookieOptions(event), maxAge: SSO_STATE_TTL_MS / 1000 });
  // SvelteKit's redirect() is for this origin only; the provider is another one.
  return new Response(null, { status: 303, headers: { location: url.href } });
}

/**
 * The callback's success answer. The provider's redirect made this a cross-site navigation, and
 * a browser withholds the new SameSite=Strict session cookie from every redirect that follows
 * it, so the way on is a same-origin refresh from this page rather than a 303.
 */
const onward = (next: string): Response => onwardPage(next, 'Signed in', 'Signed in.');

/** GET /login/sso/callback. */
export async function finishSso(ctx: SsoContext, event: Event): Promise<Response> {
  const { oidc } = ctx;
  const ip = clientIp(event);
  const limiter = signInLimitsFor(ctx, ctx.masterKey);
  const saved = openState(ctx.masterKey, event.cookies.get(SSO_COOKIE));
  // Spent whatever happens next: a state is good for one answer.
  event.cookies.delete(SSO_COOKIE, cookieOptions(event));

  const refuse = async (reason: string, actor: string, details: Record<string, unknown> = {}): Promise<never> => {
    await limiter.fail([[`ip:${ip}`, IP_POLICY]]).catch(() => 0);
    await auditUi(ctx.store, event, { actor, action: 'signin.failure', targetType: 'account', target: actor, details: { method: 'oidc', reason, ...details } });
    redirect(303, `/login?sso_error=${reason}`);
  };

  const wait = await limiter.retryAfterMs([`ip:${ip}`]).catch(() => -1);
  if (wait !== 0) redirect(303, `/login?sso_error=${wait < 0 ? 'unavailable' : 'locked'}`);
  if (!saved || event.url.searchParams.get('state') !== saved.state) return refuse('bad_state', 'sso');

  let claims;
  try {
    claims = await finishSignIn(oidc, redirectUrlOf(oidc, event.url.origin), event.url.searchParams, saved);
  } catch (err) {
    if (err instanceof SsoFailure) {
      // For whoever configures the provider: the reason and a library code, never a token or the provider's text.
      console.warn(`gatelog ui: single sign-on refused: ${err.reason} (${err.detail})`);
      return refuse(err.reason, 'sso', { detail: err.detail });
    }
    throw err;
  }
  const id = identityOf(oidc, claims);
  const email = typeof claims['email'] === 'string' ? claims['email'].slice(0, 254) : 'sso';
  if ('refused' in id) return refuse(id.refused, email);
  const cur = await userByEmail(ctx.store, id.email);
  // With SCIM on, the groups the provider provisioned this person into count as claimed groups.
  const provisioned = ctx.scim?.enabled && cur ? await groupNamesOf(ctx.store, cur.id) : [];
  const who = provisioned.length > 0 ? { ...id, groups: [...new Set([...id.groups, ...provisioned])] } : id;
  const iss = typeof claims['iss'] === 'string' ? claims['iss'] : '';
  const d = decideAccount(oidc, iss, who, cur, Date.now(), ctx.scim?.provisioned_only === true);
  if ('refused' in d) return refuse(d.refused, id.email, { groups: who.groups.slice(0, 50), ...(d.user ? { person: d.user.id } : {}) });

  const { user } = d;
  if (d.change !== 'unchanged') {
    await uiWrites(ctx).user(user);
    const prev = d.previous;
    const accessChanged = prev !== undefined && (prev.role !== user.role || prev.teams.join('\n') !== user.teams.join('\n'));
    // Sessions opened with the old role or teams end now, as a change on the People page ends them.
    const ended = accessChanged ? await sessionsFor(ctx).revokeSubject(user.id, 'access_changed') : 0;
    await auditUi(ctx.store, event, {
      actor: user.email, role: user.role, action: d.change === 'created' ? 'person.create' : 'person.update', targetType: 'person', target: user.id,
      details: { via: 'oidc', change: d.change, role: user.role, teams: user.teams, ...(prev ? { previous: { role: prev.role, teams: prev.teams, auth_source: prev.auth_source }, sessions_ended: ended } : {}) },
    });
  }
  await limiter.succeed([`ip:${ip}`]).catch(() => undefined);
  const sid = typeof claims['sid'] === 'string' && claims['sid'] !== '' ? sidHashOf(iss, claims['sid']) : '';
  await startSession(ctx, event, subjectOf(user), ip, { subject: id.subject, sidHash: sid });
  await auditUi(ctx.store, event, { actor: user.email, role: user.role, action: 'signin.success', targetType: 'account', target: user.id, details: { method: 'oidc', role: user.role, teams: user.teams } });
  return onward(saved.next);
}

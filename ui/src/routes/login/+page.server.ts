// Sign-in. Every attempt is rate-limited per account and per IP (lockout doubling after a few
// failures; 429 with Retry-After; shared by every UI process through Redis with state.redis)
// and recorded in the admin audit log, success or not. A success rotates the session: any
// session the browser held is revoked, a new id is issued. With `sso.oidc` the page also offers
// single sign-on (/login/sso); with its `password_sign_in: false` only that and the master key
// (break-glass) sign in.
import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { auditUi, clientIp } from '#lib/server/audit.server.ts';
import { checkMasterKey, safeNext, startSession, type SessionSubject } from '#lib/server/session.server.ts';
import { ssoErrorMessage } from '#lib/server/sso-signin.server.ts';
import { ACCOUNT_POLICY, IP_POLICY } from '#lib/server/signin-limit.server.ts';
import { SignInLimitsUnavailableError, signInLimitsFor } from '#lib/server/signin-limit-shared.server.ts';
import { authenticate } from '#lib/server/accounts.server.ts';
import type { Actions, PageServerLoad } from './$types';

/** A locked-out attempt is audited once a minute per account, not once per request of a flood. */
const lockedAudited = new Map<string, number>();

export const load: PageServerLoad = async ({ locals, url }) => {
  const next = safeNext(url.searchParams.get('next'));
  if (!locals.authRequired || locals.authed) redirect(303, next);
  const { oidc } = await uiContext();
  return {
    next,
    /** The single sign-on button's label, or null without `sso.oidc`. */
    sso: oidc ? `Sign in with ${oidc.display_name}` : null,
    passwordSignIn: oidc?.password_sign_in !== false,
    /** Why the last single sign-on attempt came back here (a reason code in the URL, never a token). */
    ssoError: ssoErrorMessage(url.searchParams.get('sso_error')),
  };
};

function locked(event: RequestEvent, waitMs: number, account: string) {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  event.setHeaders({ 'retry-after': String(seconds) });
  return fail(429, { message: `Too many failed sign-ins. Try again in ${seconds} s.`, account });
}

/** Redis (state.redis) unreachable with `state.on_failure: closed`: no sign-in until attempts can be counted again. */
function unavailable(event: RequestEvent, account: string) {
  event.setHeaders({ 'retry-after': '5' });
  return fail(503, { message: 'Sign-in is unavailable for a moment: gatelog cannot reach the store that counts failed sign-ins. Try again shortly.', account });
}

/** null for SignInLimitsUnavailableError (answered with `unavailable`); anything else is rethrown. */
function orUnavailable(err: unknown): null {
  if (err instanceof SignInLimitsUnavailableError) return null;
  throw err;
}

export const actions: Actions = {
  default: async (event) => {
    const ctx = await uiContext();
    const { store, masterKey } = ctx;
    const form = await event.request.formData();
    const next = safeNext(String(form.get('next') ?? ''));
    if (masterKey === undefined) redirect(303, next);
    const key = form.get('key');
    // A person signs in with email + password; the master key (break-glass) with `key`.
    const email = String(form.get('email') ?? '').trim().toLowerCase().slice(0, 254);
    const account = email || 'master';
    const ip = clientIp(event);
    const limitKeys = [`account:${account}`, `ip:${ip}`];
    const limiter = signInLimitsFor(ctx, masterKey);

    const wait = await limiter.retryAfterMs(limitKeys).catch(orUnavailable);
    if (wait === null) return unavailable(event, email);
    if (wait > 0) {
      const last = lockedAudited.get(account) ?? 0;
      if (Date.now() - last > 60_000) {
        lockedAudited.set(account, Date.now());
        await auditUi(store, event, { actor: account, action: 'signin.failure', targetType: 'account', target: account, details: { reason: 'locked', retry_after_s: Math.ceil(wait / 1000) } });
      }
      return locked(event, wait, email);
    }

    if (email && ctx.oidc?.password_sign_in === false) {
      // Counted against the address like a wrong password, so a flood ends in a lockout (audited once a minute).
      await limiter.fail([[`ip:${ip}`, IP_POLICY]]).catch(orUnavailable);
      await auditUi(store, event, { actor: account, action: 'signin.failure', targetType: 'account', target: account, details: { method: 'password', reason: 'password_sign_in_disabled' } });
      return fail(403, { message: `Sign-in with a password is turned off here: use "Sign in with ${ctx.oidc.display_name}".`, account: email });
    }

    let who: SessionSubject | undefined;
    if (email) {
      who = await authenticate(store, email, String(form.get('password') ?? ''));
    } else if (typeof key === 'string' && checkMasterKey(masterKey, key)) {
      who = { subject_kind: 'master', subject: 'master', email: '', role: 'owner', teams: [] };
    }
    if (!who) {
      const lock = await limiter.fail([[`account:${account}`, ACCOUNT_POLICY], [`ip:${ip}`, IP_POLICY]]).catch(orUnavailable);
      await auditUi(store, event, { actor: account, action: 'signin.failure', targetType: 'account', target: account, details: { reason: 'bad_credentials', locked_for_s: lock === null ? null : Math.ceil(lock / 1000) } });
      if (lock === null) return unavailable(event, email);
      return fail(401, { message: email ? 'That email and password do not match an active account.' : 'That key is not the master key.', account: email });
    }

    await limiter.succeed(limitKeys);
    // Rotation: whatever session this browser had ends here.
    await startSession(ctx, event, who, ip);
    await auditUi(store, event, { actor: who.subject_kind === 'master' ? 'master' : who.email, role: who.role, action: 'signin.success', targetType: 'account', target: who.subject, details: { role: who.role, method: who.subject_kind === 'master' ? 'master_key' : 'password' } });
    redirect(303, next);
  },
};

// POST only: a GET link could sign people out cross-site. The hooks' origin check covers
// the form POST. The session is revoked server-side, so a copy of the cookie is dead too.
// A person whose session came from single sign-on then goes on to the identity provider's
// end-session page and comes back to /login (oidc-logout.server.ts); everyone else (local
// accounts, the master key) lands on /login at once.
import { redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { auditUi } from '#lib/server/audit.server.ts';
import { SESSION_COOKIE, sessionsFor } from '#lib/server/session.server.ts';
import { endSessionUrl } from '#lib/server/oidc-logout.server.ts';
import { onwardPage } from '#lib/server/onward.server.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  const { cookies, url } = event;
  const ctx = await uiContext();
  const { store } = ctx;
  const ended = await sessionsFor(ctx).revoke(cookies.get(SESSION_COOKIE), 'signed_out');
  const provider = ended?.oidc_subject && ctx.oidc ? await endSessionUrl(ctx.oidc, url.origin) : undefined;
  if (ended) {
    await auditUi(store, event, {
      actor: ended.subject_kind === 'master' ? 'master' : ended.email, role: ended.role, action: 'signout', targetType: 'account', target: ended.subject,
      ...(provider ? { details: { provider_logout: true } } : {}),
    });
  }
  cookies.delete(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: url.protocol === 'https:' });
  // Not a 303: after a form POST, the pages' `form-action 'self'` policy stops a redirect to another origin.
  if (provider) return onwardPage(provider, 'Signed out', 'Signed out of gatelog. Now signing you out at your identity provider…');
  redirect(303, '/login');
};

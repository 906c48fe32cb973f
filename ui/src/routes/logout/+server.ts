// POST only: a GET link could sign people out cross-site. SvelteKit's origin check covers
// the form POST. The session is revoked server-side, so a copy of the cookie is dead too.
import { redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { auditUi } from '#lib/server/audit.server.ts';
import { SESSION_COOKIE, sessionsFor } from '#lib/server/session.server.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  const { cookies, url } = event;
  const ctx = await uiContext();
  const { store } = ctx;
  const ended = await sessionsFor(ctx).revoke(cookies.get(SESSION_COOKIE), 'signed_out');
  if (ended) {
    await auditUi(store, event, { actor: ended.subject_kind === 'master' ? 'master' : ended.email, role: ended.role, action: 'signout', targetType: 'account', target: ended.subject });
  }
  cookies.delete(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: url.protocol === 'https:' });
  redirect(303, '/login');
};

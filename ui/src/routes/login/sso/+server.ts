// GET /login/sso: single sign-on starts here (the login page's "Sign in with …" button).
// Without `sso.oidc` there is nothing here; without a master key the UI is open anyway.
import { error, redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { startSso } from '#lib/server/sso-signin.server.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
  const ctx = await uiContext();
  const { oidc, masterKey } = ctx;
  if (!oidc) error(404, 'Single sign-on is not configured (sso.oidc in gatelog.yaml).');
  if (masterKey === undefined) redirect(303, '/requests');
  return startSso({ ...ctx, oidc, masterKey }, event);
};

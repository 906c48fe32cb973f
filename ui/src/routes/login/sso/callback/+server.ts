// GET /login/sso/callback: where the identity provider sends the browser back (sso-signin.server.ts).
import { error, redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { finishSso } from '#lib/server/sso-signin.server.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
  const ctx = await uiContext();
  const { oidc, masterKey } = ctx;
  if (!oidc) error(404, 'Single sign-on is not configured (sso.oidc in gatelog.yaml).');
  if (masterKey === undefined) redirect(303, '/requests');
  return finishSso({ ...ctx, oidc, masterKey }, event);
};

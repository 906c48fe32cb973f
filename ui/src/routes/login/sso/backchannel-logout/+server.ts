// POST /login/sso/backchannel-logout: the identity provider's back-channel logout
// (oidc-logout.server.ts), the URL an admin registers as the client's backchannel_logout_uri.
// It takes no cookie, only the provider's signed token, so hooks.server.ts exempts it (alone)
// from the same-origin check that guards every form POST.
import { uiContext } from '#lib/server/context.server.ts';
import { backchannelLogout } from '#lib/server/oidc-logout.server.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  const ctx = await uiContext();
  const { oidc } = ctx;
  if (!oidc) return Response.json({ error: 'invalid_request', error_description: 'single sign-on is not configured (sso.oidc in gatelog.yaml)' }, { status: 404 });
  return backchannelLogout({ ...ctx, oidc }, event);
};

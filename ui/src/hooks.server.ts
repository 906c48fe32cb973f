// Every UI request passes here. With a master key configured, only a live server-side
// session (see session.server.ts) gets past /login, and `locals.principal` says who it is
// (person, role, team scope); without one, the UI is open (the launcher only binds loopback
// then, and answers only loopback host names: server.allowed_hosts).
//
// The same-origin check on form POSTs (CSRF) is done here (same-origin.server.ts) rather than by
// SvelteKit (vite.config.ts trusts '*' so that its own check stands down): SvelteKit's check
// cannot exempt one route, and the identity provider's back-channel logout must get through.
import type { Handle } from '@sveltejs/kit/hooks';
import { HOST_REFUSED_MESSAGE } from '@gatelog/core/allowed-hosts';
import { MASTER_PRINCIPAL, OPEN_PRINCIPAL, isRole, type Principal } from '@gatelog/core/roles';
import { uiContext } from '#lib/server/context.server.ts';
import { SESSION_COOKIE, sessionsFor, type Session } from '#lib/server/session.server.ts';
import { allowed } from '#lib/server/permissions.server.ts';
import { BACKCHANNEL_PATH, crossSiteForm } from '#lib/server/same-origin.server.ts';

const PUBLIC_PATHS = new Set(['/login', '/login/invite', '/login/sso', '/login/sso/callback', BACKCHANNEL_PATH]);

function principalOf(s: Session): Principal | undefined {
  if (s.subject_kind === 'master') return MASTER_PRINCIPAL;
  if (!isRole(s.role)) return undefined;
  return { kind: 'user', id: s.subject, name: s.email, role: s.role, teams: s.teams };
}

/**
 * The path a request's permission is decided on: its route's id (`/requests/[id]`) when one
 * matched, else the decoded path (a 404 follows; an undecodable path is judged as sent).
 */
function routePath(event: { route: { id: string | null }; url: URL }): string {
  if (event.route.id !== null) return event.route.id;
  try {
    return decodeURIComponent(event.url.pathname);
  } catch {
    return event.url.pathname;
  }
}

export const handle: Handle = async ({ event, resolve }) => {
  const ctx = await uiContext();
  const { store, masterKey, hostCheck } = ctx;
  // Standalone UI: a page for a host we do not serve (DNS rebinding) is refused outright.
  if (hostCheck && !hostCheck(event.request.headers.get('host') ?? undefined)) {
    return new Response(`403 Forbidden: ${HOST_REFUSED_MESSAGE}\n`, { status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  }
  if (crossSiteForm(event.request, event.url)) {
    const message = `Cross-site ${event.request.method} form submissions are forbidden`;
    if (event.request.headers.get('accept') === 'application/json') return Response.json({ message }, { status: 403 });
    return new Response(message, { status: 403, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
  event.locals.authRequired = masterKey !== undefined;
  let principal: Principal | undefined = OPEN_PRINCIPAL;
  if (masterKey !== undefined) {
    const session = await sessionsFor(ctx).check(event.cookies.get(SESSION_COOKIE), masterKey);
    principal = session ? principalOf(session) : undefined;
  }
  event.locals.principal = principal;
  event.locals.authed = principal !== undefined;

  if (!event.locals.authed && !PUBLIC_PATHS.has(event.url.pathname)) {
    const next = event.url.pathname + event.url.search;
    const location = `/login?next=${encodeURIComponent(next)}`;
    return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store' } });
  }

  // One permission table for every page, form action and download (permissions.server.ts),
  // asked with the route the request reaches: the router decodes percent-escapes before
  // matching, so `/%70eople` is the people page, while `url.pathname` keeps them.
  if (principal && !allowed(principal, event.request.method, routePath(event))) {
    const body = `<!doctype html><meta charset="utf-8"><title>Not for your role · gatelog</title><h1>403: not for your role</h1><p>Your role (${principal.role}) cannot use this page or action. <a href="/requests">Back to requests</a></p>`;
    return new Response(body, { status: 403, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' } });
  }

  const response = await resolve(event);
  // Pages show logged prompts and responses: keep them out of shared caches and frames.
  response.headers.set('cache-control', 'no-store');
  response.headers.set('x-content-type-options', 'nosniff');
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form POSTs,
  // which SvelteKit's CSRF check rightly rejects.
  response.headers.set('referrer-policy', 'same-origin');
  response.headers.set('x-frame-options', 'DENY');
  return response;
};

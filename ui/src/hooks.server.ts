// Every UI request passes here: with a master key configured, only a verified session gets
// past /login; without one, the UI is open (the launcher only binds loopback in that case).
import type { Handle } from '@sveltejs/kit/hooks';
import { uiContext } from '#lib/server/context.server.ts';
import { SESSION_COOKIE, verifySessionToken } from '#lib/server/session.server.ts';

const PUBLIC_PATHS = new Set(['/login']);

export const handle: Handle = async ({ event, resolve }) => {
  const { masterKey } = await uiContext();
  event.locals.authRequired = masterKey !== undefined;
  event.locals.authed = masterKey === undefined || verifySessionToken(masterKey, event.cookies.get(SESSION_COOKIE));

  if (!event.locals.authed && !PUBLIC_PATHS.has(event.url.pathname)) {
    const next = event.url.pathname + event.url.search;
    const location = `/login?next=${encodeURIComponent(next)}`;
    return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store' } });
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

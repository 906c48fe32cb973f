// The same-origin check on form-like writes (CSRF), as SvelteKit's own (runtime/server/csrf.js)
// does it, run by hooks.server.ts because SvelteKit's cannot exempt a route: a POST, PUT, PATCH
// or DELETE whose body a cross-site HTML form could send (no content type, form encodings,
// text/plain) is refused unless its Origin is this origin. The one exception is the identity
// provider's back-channel logout, a server-to-server POST without an Origin that carries a
// signed token and no cookie (oidc-logout.server.ts checks it).
export const BACKCHANNEL_PATH = '/login/sso/backchannel-logout';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain', 'application/x-sveltekit-formdata']);

/** Whether `request` to `url` is a cross-site form-like write to refuse. */
export function crossSiteForm(request: Request, url: URL): boolean {
  if (!MUTATING.has(request.method) || request.headers.get('origin') === url.origin) return false;
  const type = request.headers.get('content-type');
  if (type && !FORM_TYPES.has(type.split(';')[0]!.trim().toLowerCase())) return false;
  return !(request.method === 'POST' && url.pathname === BACKCHANNEL_PATH);
}

// Who is calling the admin API, as a Principal with a role (core/src/roles.ts): the master key
// (break-glass, owner), nobody in an open gatelog (owner, loopback only), or a machine token
// (`Authorization: Bearer glt-…`, looked up by its SHA-256, cached for a few seconds so a
// revocation reaches every proxy within TOKEN_CACHE_MS). A virtual key is refused (403).
// Routes then ask `requireCan(req, action)`: one permission table for every surface.
import type { FastifyRequest } from 'fastify';
import type { Store } from '@gatelog/core';
import { MASTER_PRINCIPAL, OPEN_PRINCIPAL, can, isRole, type Action, type Principal } from '@gatelog/core/roles';
import { sha256Hex, tokenByHash } from '@gatelog/core/store/users';
import { ACTING_FOR_HEADER, parseActingFor } from '@gatelog/core/acting-for';
import { ProxyError } from './errors.ts';
import { presentedKey, type CallerAuth } from './auth.ts';

export { TOKEN_PREFIX } from '@gatelog/core/people';
import { TOKEN_PREFIX } from '@gatelog/core/people';
export const TOKEN_CACHE_MS = 3000;
const CACHE_MAX = 1000;

const principals = new WeakMap<FastifyRequest, Principal>();

export interface AdminAuthDeps {
  store: Store | undefined;
  auth: CallerAuth;
  now: () => number;
}

export type AdminPrincipalHook = (req: FastifyRequest) => Promise<void>;

/** An onRequest hook that identifies the caller (or throws the 401/403 to answer). */
export function adminPrincipalHook(deps: AdminAuthDeps): AdminPrincipalHook {
  const cache = new Map<string, { p: Principal | null; at: number }>();

  const byToken = async (token: string): Promise<Principal | null> => {
    const hash = sha256Hex(token);
    const t = deps.now();
    const hit = cache.get(hash);
    if (hit && t - hit.at < TOKEN_CACHE_MS) return hit.p;
    const rec = deps.store ? await tokenByHash(deps.store, hash) : undefined;
    const live = rec && !rec.revoked && (rec.expires_at === null || Date.parse(rec.expires_at) > t) && isRole(rec.role);
    const p: Principal | null = live ? { kind: 'token', id: rec.id, name: `token:${rec.name}`, role: rec.role as Principal['role'], teams: rec.teams } : null;
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(hash, { p, at: t });
    return p;
  };

  return async (req) => {
    const presented = presentedKey(req.headers);
    if (presented?.startsWith(TOKEN_PREFIX)) {
      const p = await byToken(presented);
      if (!p) throw new ProxyError(401, 'invalid_api_key', 'This token is unknown, revoked or expired.', 'authentication_error');
      principals.set(req, p);
      return;
    }
    const c = deps.auth.identify(req.headers, deps.now());
    if (c instanceof ProxyError) throw c;
    if (c.kind === 'key') throw new ProxyError(403, 'admin_only', 'Admin endpoints need the master key or an admin token; a virtual key cannot call them.', 'permission_error');
    principals.set(req, actingFor(req) ?? (c.kind === 'master' ? MASTER_PRINCIPAL : OPEN_PRINCIPAL));
  };
}

/**
 * The person the master key's holder (the UI) acts for, whose role and teams are then checked
 * and audited (core/src/acting-for.ts); undefined without the header. Only this hook's master
 * and open branches ask: a token's header is ignored.
 */
function actingFor(req: FastifyRequest): Principal | undefined {
  const v = req.headers[ACTING_FOR_HEADER];
  if (v === undefined) return undefined;
  const p = typeof v === 'string' ? parseActingFor(v) : null;
  if (!p) throw new ProxyError(400, 'invalid_acting_for', `The ${ACTING_FOR_HEADER} header must be base64url JSON naming a person: {"name","role","teams"}.`, 'invalid_request_error');
  return p;
}

/** The caller identified by the hook (owner when none ran: tests building routes alone). */
export function principalOf(req: FastifyRequest): Principal {
  return principals.get(req) ?? OPEN_PRINCIPAL;
}

/** Throws 403 unless the caller's role may do `action`. */
export function requireCan(req: FastifyRequest, action: Action): Principal {
  const p = principalOf(req);
  if (!can(p.role, action)) {
    throw new ProxyError(403, 'role_forbidden', `The role "${p.role}" may not do this (${action}).`, 'permission_error');
  }
  return p;
}

/**
 * What an admin route needs (`master`: the master key itself, e.g. the UI recording its audit
 * rows), from the route's declared path (`/admin/calls/:id`), never the raw URL: the router
 * decodes percent-escapes before matching, so `/admin/%75i/users` reaches `/admin/ui/users`.
 */
export function adminActionFor(method: string, url: string): Action | 'master' {
  const path = url.split('?')[0] ?? '';
  const read = method === 'GET' || method === 'HEAD';
  if (path.startsWith('/admin/keys')) return read ? 'keys.read' : 'keys.write';
  if (path.startsWith('/admin/audit')) return read ? 'audit.read' : 'master';
  if (path.startsWith('/admin/ui/')) return 'master';
  if (path.startsWith('/admin/export')) return 'export';
  if (path === '/admin/replay') return 'calls.replay';
  if (/^\/admin\/calls\/[^/]+\/feedback$/.test(path) && !read) return 'calls.feedback';
  if (/^\/admin\/calls\/[^/]+/.test(path)) return 'bodies.read';
  if (path.startsWith('/admin/calls')) return 'calls.read';
  // Alerts are read like dashboards (each caller sees its teams' rules and events: alerts.ts).
  if (path.startsWith('/admin/alerts')) return read ? 'calls.read' : 'settings.write';
  return 'settings.write';
}

/** Identify (adminPrincipalHook), then check the route's permission. */
export function adminRouteGuard(deps: AdminAuthDeps): AdminPrincipalHook {
  const identify = adminPrincipalHook(deps);
  return async (req) => {
    await identify(req);
    // A request no route matched (a 404 follows) is judged by its raw path: the strictest
    // answer, `settings.write`, for anything unrecognised.
    const need = adminActionFor(req.method, req.routeOptions.url ?? req.url);
    if (need !== 'master') {
      requireCan(req, need);
      return;
    }
    const p = principalOf(req);
    if (p.kind !== 'master' && p.kind !== 'open') throw new ProxyError(403, 'master_only', 'This endpoint needs the master key.', 'permission_error');
  };
}

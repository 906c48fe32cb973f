// Who is calling an admin route, for the routes' guard and for the audit trail: the master key
// (break-glass, acting as owner), nobody in an open gatelog, or a machine token with its role;
// a virtual key is refused (403).
import type { FastifyRequest } from 'fastify';
import type { AuditInput, Store } from '@gatelog/core';
import { adminRouteGuard, principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';

/** `master`, `admin` (an open gatelog), or `token:<name>` (a machine token). */
export type AdminActor = string;

/**
 * An onRequest hook: identifies the caller (master key, open, or a machine token looked up in
 * `store`) and checks the route's permission (admin-principal.ts), or fails the request.
 */
export function adminGuard(gov: Governance, store?: Store) {
  return adminRouteGuard({ store, auth: gov.auth, now: gov.now });
}

export function adminActor(req: FastifyRequest): AdminActor {
  const p = principalOf(req);
  return p.kind === 'open' ? 'admin' : p.name;
}

/** The audit columns for the caller of an admin request. */
export function auditWho(req: FastifyRequest): Pick<AuditInput, 'actor' | 'role' | 'sourceIp' | 'userAgent'> {
  return { actor: adminActor(req), role: principalOf(req).role, sourceIp: req.ip, userAgent: req.headers['user-agent'] ?? '' };
}

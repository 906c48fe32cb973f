// Who is calling an admin route, for the routes' guard and for the audit trail: the master key
// (break-glass, acting as owner) or nobody in an open gatelog; a virtual key is refused (403).
import type { FastifyRequest } from 'fastify';
import type { AuditInput } from '@gatelog/core';
import { ProxyError } from '../errors.ts';
import type { Governance } from '../governance/runtime.ts';

export type AdminActor = 'master' | 'admin';

const actors = new WeakMap<FastifyRequest, AdminActor>();

/** An onRequest hook: identifies the caller or fails the request. */
export function adminGuard(gov: Governance) {
  return (req: FastifyRequest, _reply: unknown, next: (err?: Error) => void): void => {
    const c = gov.auth.identify(req.headers, gov.now());
    if (c instanceof ProxyError) return next(c);
    if (c.kind === 'key') {
      return next(new ProxyError(403, 'admin_only', 'Admin endpoints need the master key; a virtual key cannot call them.', 'permission_error'));
    }
    actors.set(req, c.kind === 'master' ? 'master' : 'admin');
    next();
  };
}

export function adminActor(req: FastifyRequest): AdminActor {
  return actors.get(req) ?? 'admin';
}

/** The audit columns for the caller of an admin request. */
export function auditWho(req: FastifyRequest): Pick<AuditInput, 'actor' | 'role' | 'sourceIp' | 'userAgent'> {
  return { actor: adminActor(req), role: 'owner', sourceIp: req.ip, userAgent: req.headers['user-agent'] ?? '' };
}

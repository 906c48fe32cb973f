// Admin API for people and machine tokens (owner/admin write; auditor reads):
//   POST   /admin/users          create a local account; answers a one-time sign-in link path
//   GET    /admin/users          list (no hashes; a team-scoped caller sees its teams' people only)
//   PATCH  /admin/users/:id      role, teams, name, disabled, new_link: true (a fresh sign-in link)
//                                (a single sign-on person: 409 sso_managed for new_link, role, teams;
//                                unbind_sso: true lets their next sign-in bind a new provider subject)
//   DELETE /admin/users/:id      delete a person: every version of their record, sessions ended
//   POST   /admin/tokens         create a machine token (the secret is in this response only)
//   GET    /admin/tokens         list (no hashes; scoped as /admin/users)
//   DELETE /admin/tokens/:id     revoke
// The rules and writes are core's (people.ts), shared with the UI's People page: who may change
// whom (owner role, team scope) is decided there, and answered here as 403 permission_error.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Store } from '@gatelog/core';
import { PeopleError, createPerson, createToken, erasePerson, managedBy, publicToken, publicUser, revokeToken, updatePerson, type Acting } from '@gatelog/core/people';
import type { Action } from '@gatelog/core/roles';
import { listTokens, listUsers, tokenById, userById } from '@gatelog/core/store/users';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminPrincipalHook, requireCan, type AdminAuthDeps } from '../admin-principal.ts';
import type { ProxyMetrics } from '../metrics.ts';

const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function idParam(req: FastifyRequest): string {
  const id = (req.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw badRequest('invalid_id', 'The id is malformed.', 'id');
  return id;
}

const asProxyError = (err: unknown): unknown =>
  err instanceof PeopleError ? new ProxyError(err.status, err.code, err.message, err.status === 403 ? 'permission_error' : err.status >= 500 ? 'server_error' : 'invalid_request_error', err.param) : err;

/** A change decided by core, its refusals answered in this API's error shape. */
const decided = <T>(change: Promise<T>): Promise<T> => change.catch((e: unknown) => { throw asProxyError(e); });

export function peopleRoutes(deps: AdminAuthDeps & { store: Store; metrics: ProxyMetrics }) {
  const { store } = deps;
  const acting = (req: FastifyRequest, action: Action): Acting =>
    ({ by: requireCan(req, action), sourceIp: req.ip, userAgent: req.headers['user-agent'] ?? '', now: deps.now() });
  const link = (l: { path: string; expiresAt: string } | undefined) => (l ? { sign_in_path: l.path, link_expires_at: l.expiresAt } : {});

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminPrincipalHook(deps));

    app.post('/users', async (req, reply) => {
      const r = await decided(createPerson(store, acting(req, 'people.write'), req.body));
      return reply.code(201).send({ user: publicUser(r.user), ...link(r.link) });
    });

    app.get('/users', { config: { query: [] } }, async (req) => {
      const by = requireCan(req, 'people.read');
      return { object: 'list', data: managedBy(by, await listUsers(store)).map(publicUser) };
    });

    app.patch('/users/:id', async (req) => {
      const a = acting(req, 'people.write');
      const cur = await userById(store, idParam(req));
      if (!cur) throw new ProxyError(404, 'user_not_found', 'No person with this id.', 'not_found_error', 'id');
      const r = await decided(updatePerson(store, a, cur, req.body));
      return { user: publicUser(r.user), ...link(r.link) };
    });

    app.delete('/users/:id', async (req) => {
      const a = acting(req, 'people.write');
      const cur = await userById(store, idParam(req));
      if (!cur) throw new ProxyError(404, 'user_not_found', 'No person with this id.', 'not_found_error', 'id');
      const r = await decided(erasePerson(store, a, cur));
      return { id: cur.id, object: 'user', deleted: true, sessions_ended: r.sessions_ended };
    });

    app.post('/tokens', async (req, reply) => {
      const r = await decided(createToken(store, acting(req, 'tokens.write'), req.body));
      return reply.code(201).send({ token: publicToken(r.token), secret: r.secret });
    });

    app.get('/tokens', { config: { query: [] } }, async (req) => {
      const by = requireCan(req, 'people.read');
      return { object: 'list', data: managedBy(by, await listTokens(store)).map(publicToken) };
    });

    app.delete('/tokens/:id', async (req) => {
      const a = acting(req, 'tokens.write');
      const cur = await tokenById(store, idParam(req));
      if (!cur) throw new ProxyError(404, 'token_not_found', 'No token with this id.', 'not_found_error', 'id');
      return { token: publicToken(await decided(revokeToken(store, a, cur))) };
    });
    done();
  };
}

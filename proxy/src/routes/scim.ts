// SCIM 2.0 service provider (RFC 7644) at /scim/v2, for an identity provider (Okta, Entra ID,
// JumpCloud…) to provision and deprovision gatelog's people; on only with `sso.scim.enabled`.
//   GET    /ServiceProviderConfig, /ResourceTypes[/:id], /Schemas[/:urn]    discovery
//   GET    /Users?filter=userName eq "…"&startIndex&count                 list / look up
//   POST   /Users                                                         create (409 uniqueness)
//   GET    /Users/:id · PUT /Users/:id · PATCH /Users/:id (PatchOp)       read, replace, modify
//   DELETE /Users/:id                                                     disable for good (204)
//   /Groups (same verbs; filter displayName eq "…")                       names read by sso.oidc roles/teams
// Callers: a machine token (`Bearer glt-…`) whose role may `people.provision`, unscoped (SCIM
// reaches every person). Errors are SCIM's shape and content type. The rules are core's (core/src/scim).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '@gatelog/core';
import type { OidcConfig } from '@gatelog/core/auth/oidc-config';
import type { Acting } from '@gatelog/core/people';
import { TOKEN_PREFIX } from '@gatelog/core/people';
import { can } from '@gatelog/core/roles';
import { groupLookup, userLookup } from '@gatelog/core/scim/filter';
import { createScimGroup, deleteScimGroup, groupFields, patchedGroupFields, scimGroup, scimGroups, toScimGroup, updateScimGroup } from '@gatelog/core/scim/groups';
import { patchedFields } from '@gatelog/core/scim/patch';
import { MAX_RESULTS, SCIM_CONTENT_TYPE, ScimError, listResponse, resourceTypes, schemas, scimErrorBody, serviceProviderConfig, type ScimType } from '@gatelog/core/scim/protocol';
import { createScimUser, deleteScimUser, scimUser, scimUsers, updateScimUser } from '@gatelog/core/scim/provision';
import { toScimUser, userFields } from '@gatelog/core/scim/user-resource';
import { ProxyError, type OpenAiErrorType } from '../errors.ts';
import { installSurface, type ErrorShape } from './surface.ts';
import { nestsDeeperThan } from './json-depth.ts';
import { adminPrincipalHook, principalOf, type AdminAuthDeps } from '../admin-principal.ts';
import { presentedKey } from '../auth.ts';
import type { ProxyMetrics } from '../metrics.ts';

export const SCIM_PREFIX = '/scim/v2';

const SCIM_TYPES = new Set<string>(['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive']);

const typeOf = (status: number): OpenAiErrorType =>
  status === 401 ? 'authentication_error' : status === 403 ? 'permission_error' : status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error';

/** A SCIM refusal as this surface's ProxyError: its scimType (if any) is the code. */
const asProxyError = (e: ScimError): ProxyError => new ProxyError(e.status, e.scimType ?? 'scim_error', e.message, typeOf(e.status));

export const SCIM_ERRORS: ErrorShape = {
  body: (e) => scimErrorBody(e.status, e.message, SCIM_TYPES.has(e.code) ? (e.code as ScimType) : undefined),
  shown: (e) => ({ type: e.type, message: e.message }),
  contentType: SCIM_CONTENT_TYPE,
  from: (err) => (err instanceof ScimError ? asProxyError(err) : undefined),
};

const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function idParam(req: FastifyRequest): string {
  const id = (req.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new ScimError(404, 'No resource with this id.');
  return id;
}

/** A positive integer query value, or `fallback` (RFC 7644 §3.4.2.4: a bad value is read as the default). */
function intParam(v: unknown, fallback: number, min: number): number {
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.max(n, min) : fallback;
}

/** SCIM resources nest a few levels; a deeper body would only overflow the recursive walks after parsing. */
const MAX_SCIM_DEPTH = 32;

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new ScimError(400, 'The body is not valid JSON.', 'invalidSyntax');
  }
  if (nestsDeeperThan(body, MAX_SCIM_DEPTH)) throw new ScimError(400, `The body nests deeper than ${MAX_SCIM_DEPTH} levels.`, 'invalidSyntax');
  return body;
}

export interface ScimRouteDeps extends AdminAuthDeps {
  store: Store;
  metrics: ProxyMetrics;
  oidc: OidcConfig;
}

/** Identifies the caller: a live machine token, unscoped, whose role may provision people. */
function scimCaller(deps: AdminAuthDeps) {
  const identify = adminPrincipalHook(deps);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const unauthorized = (detail: string): ScimError => {
      void reply.header('www-authenticate', 'Bearer realm="gatelog-scim"');
      return new ScimError(401, detail);
    };
    if (!presentedKey(req.headers)?.startsWith(TOKEN_PREFIX)) throw unauthorized('SCIM needs Authorization: Bearer <a gatelog machine token (glt-…)>.');
    try {
      await identify(req);
    } catch {
      throw unauthorized('This token is unknown, revoked or expired.');
    }
    const p = principalOf(req);
    if (!can(p.role, 'people.provision')) throw new ScimError(403, `The role "${p.role}" may not provision people (people.provision).`);
    if (p.teams.length > 0) throw new ScimError(403, 'A team-scoped token cannot provision people: SCIM reaches every account.');
  };
}

export function scimRoutes(deps: ScimRouteDeps) {
  const { store, oidc } = deps;
  const acting = (req: FastifyRequest): Acting => ({ by: principalOf(req), sourceIp: req.ip, userAgent: req.headers['user-agent'] ?? '', now: deps.now() });
  const base = (req: FastifyRequest): string => `${req.protocol}://${req.host}${SCIM_PREFIX}`;
  const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', SCIM_CONTENT_TYPE).send(JSON.stringify(body));

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics, SCIM_ERRORS);
    app.addHook('onRequest', scimCaller(deps));
    app.removeAllContentTypeParsers();
    for (const type of ['application/json', 'application/scim+json']) {
      app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, next) => {
        try {
          next(null, parseJson(body as string));
        } catch (e) {
          next(e as Error, undefined);
        }
      });
    }

    app.get('/ServiceProviderConfig', (req, reply) => send(reply, 200, serviceProviderConfig(base(req))));
    app.get('/ResourceTypes', (req, reply) => send(reply, 200, listResponse(resourceTypes(base(req)), 1, 1)));
    app.get('/ResourceTypes/:id', (req, reply) => {
      const found = resourceTypes(base(req)).find((t) => t.id === (req.params as { id: string }).id);
      if (!found) throw new ScimError(404, 'No such resource type.');
      return send(reply, 200, found);
    });
    app.get('/Schemas', (req, reply) => send(reply, 200, listResponse(schemas(base(req)), 1, 1)));
    app.get('/Schemas/:id', (req, reply) => {
      const found = schemas(base(req)).find((s) => s.id === (req.params as { id: string }).id);
      if (!found) throw new ScimError(404, 'No such schema.');
      return send(reply, 200, found);
    });

    app.get('/Users', { config: { query: ['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'] } }, async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const lookup = userLookup(typeof q['filter'] === 'string' ? q['filter'] : undefined);
      const startIndex = intParam(q['startIndex'], 1, 1);
      const count = Math.min(intParam(q['count'], MAX_RESULTS, 0), MAX_RESULTS);
      const page = await scimUsers(store, lookup, startIndex, count);
      return send(reply, 200, listResponse(page.users.map((u) => toScimUser(u, base(req))), page.total, startIndex));
    });

    app.post('/Users', async (req, reply) => {
      const user = await createScimUser(store, acting(req), oidc, userFields(req.body));
      const shown = toScimUser(user, base(req));
      return send(reply.header('location', shown.meta.location), 201, shown);
    });

    app.get('/Users/:id', async (req, reply) => send(reply, 200, toScimUser(await scimUser(store, idParam(req)), base(req))));

    app.put('/Users/:id', async (req, reply) => {
      const cur = await scimUser(store, idParam(req));
      const user = await updateScimUser(store, acting(req), cur, userFields(req.body, !cur.disabled));
      return send(reply, 200, toScimUser(user, base(req)));
    });

    app.patch('/Users/:id', async (req, reply) => {
      const cur = await scimUser(store, idParam(req));
      const user = await updateScimUser(store, acting(req), cur, patchedFields(toScimUser(cur, base(req)), req.body));
      return send(reply, 200, toScimUser(user, base(req)));
    });

    app.delete('/Users/:id', async (req, reply) => {
      await deleteScimUser(store, acting(req), await scimUser(store, idParam(req)));
      return reply.code(204).send();
    });

    app.get('/Groups', { config: { query: ['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'] } }, async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const lookup = groupLookup(typeof q['filter'] === 'string' ? q['filter'] : undefined);
      const startIndex = intParam(q['startIndex'], 1, 1);
      const page = await scimGroups(store, lookup, startIndex, Math.min(intParam(q['count'], MAX_RESULTS, 0), MAX_RESULTS));
      return send(reply, 200, listResponse(page.groups.map((g) => toScimGroup(g, base(req))), page.total, startIndex));
    });

    app.post('/Groups', async (req, reply) => {
      const shown = toScimGroup(await createScimGroup(store, acting(req), oidc, groupFields(req.body)), base(req));
      return send(reply.header('location', shown.meta.location), 201, shown);
    });

    app.get('/Groups/:id', async (req, reply) => send(reply, 200, toScimGroup(await scimGroup(store, idParam(req)), base(req))));

    app.put('/Groups/:id', async (req, reply) => {
      const cur = await scimGroup(store, idParam(req));
      return send(reply, 200, toScimGroup(await updateScimGroup(store, acting(req), oidc, cur, groupFields(req.body)), base(req)));
    });

    app.patch('/Groups/:id', async (req, reply) => {
      const cur = await scimGroup(store, idParam(req));
      const g = await updateScimGroup(store, acting(req), oidc, cur, patchedGroupFields(toScimGroup(cur, base(req)), req.body));
      return send(reply, 200, toScimGroup(g, base(req)));
    });

    app.delete('/Groups/:id', async (req, reply) => {
      await deleteScimGroup(store, acting(req), oidc, await scimGroup(store, idParam(req)));
      return reply.code(204).send();
    });

    app.setNotFoundHandler(() => {
      throw new ScimError(404, 'No such SCIM endpoint.');
    });
    done();
  };
}


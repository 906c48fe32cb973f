// Read API over recorded calls, served by every proxy with a store: `GET /admin/calls` and
// `GET /admin/calls/:id`, for scripts and tests that want a call's record without the UI
// (LiteLLM users know this as /spend/logs).
// Guarded by the master key when one is set; responses never include credentials, because
// events never hold any. Every read of one call (its bodies) is audited as `call.view`; a list
// carries prompt previews only for a caller who may read bodies (roles.ts `mayReadBodies`, the
// UI's rule too), and such a list is audited as `calls.list`, naming the calls it showed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, getCall, listCalls, type Store } from '@gatelog/core';
import { Limit, readParams, ReadParamError, Status, Text } from '@gatelog/core/store/read-params';
import { toProxyError } from '../errors.ts';
import type { Governance } from '../governance/runtime.ts';
import { principalOf } from '../admin-principal.ts';
import { inScope, mayReadBodies } from '@gatelog/core/roles';
import { adminGuard, auditWho } from './admin-caller.ts';

/** GET /admin/calls's query (read-params.ts): a bad value is a 400 naming it, never a store error. */
const CALLS_PARAMS = { model: Text.optional(), status: Status.optional(), key: Text.optional(), limit: Limit(500).optional() };

export function registerCallsApi(app: FastifyInstance, deps: { store: Store; masterKey: string | undefined; gov: Governance }): void {
  // The master key, or a machine token whose role may read calls (bodies: bodies.read); a
  // virtual key cannot read other callers' calls; open without a master key.
  const check = adminGuard(deps.gov, deps.store);
  const openActor = (req: FastifyRequest): { actor?: string } => (deps.masterKey || principalOf(req).kind !== 'open' ? {} : { actor: 'open-proxy' });
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      await check(req);
    } catch (err) {
      const e = toProxyError(err);
      await reply.code(e.status).send({ error: { message: e.message, type: e.type, param: null, code: e.code } });
    }
  };

  app.get('/admin/calls', { onRequest: guard }, async (req, reply) => {
    let q;
    try {
      q = readParams(CALLS_PARAMS, new URL(req.url, 'http://gatelog.invalid').searchParams);
    } catch (err) {
      if (!(err instanceof ReadParamError)) throw err;
      return reply.code(400).send({ error: { message: err.message, type: 'invalid_request_error', param: err.param, code: err.code } });
    }
    const p = principalOf(req);
    const previews = mayReadBodies(p);
    const rows = await listCalls(deps.store, { ...q, limit: q.limit ?? 50, ...(p.teams.length ? { teams: p.teams } : {}) }, { previews });
    // Previews are prompt text: the list is answered only once its read is in the audit trail.
    if (previews && rows.length) {
      await appendAudit(deps.store, {
        ...auditWho(req), ...openActor(req), action: 'calls.list', targetType: 'llm_calls', target: '',
        details: { via: 'api', calls: rows.map((r) => r.request_id), bodies: true },
      });
    }
    return { object: 'list', data: rows };
  });

  app.get<{ Params: { id: string } }>('/admin/calls/:id', { onRequest: guard }, async (req, reply) => {
    const call = await getCall(deps.store, req.params.id);
    // Outside a team-scoped caller's teams, the call does not exist for them.
    if (!call || !inScope(principalOf(req), call.team)) return reply.code(404).send({ error: { message: `No recorded call with id ${JSON.stringify(req.params.id.slice(0, 64))}.`, type: 'invalid_request_error', param: 'id', code: 'call_not_found' } });
    // A body is shown only once its view is in the audit trail.
    await appendAudit(deps.store, {
      ...auditWho(req), ...openActor(req), action: 'call.view', targetType: 'call', target: call.request_id,
      details: { via: 'api', trace_id: call.trace_id },
    });
    return call;
  });
}

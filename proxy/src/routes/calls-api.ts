// Read API over recorded calls, served by every proxy with a store: `GET /admin/calls` and
// `GET /admin/calls/:id`, for scripts and tests that want a call's record without the UI
// (LiteLLM users know this as /spend/logs).
// Guarded by the master key when one is set; responses never include credentials, because
// events never hold any. Every read of one call (its bodies) is audited as `call.view`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, getCall, listCalls, type Store } from '@gatelog/core';
import { Limit, readParams, ReadParamError, Status, Text } from '@gatelog/core/store/read-params';
import { createAuthCheck } from '../auth.ts';

/** GET /admin/calls's query (read-params.ts): a bad value is a 400 naming it, never a store error. */
const CALLS_PARAMS = { model: Text.optional(), status: Status.optional(), key: Text.optional(), limit: Limit(500).optional() };

export function registerCallsApi(app: FastifyInstance, deps: { store: Store; masterKey: string | undefined }): void {
  // Master key only (a virtual key cannot read other callers' calls); open without one.
  const check = createAuthCheck(deps.masterKey);
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const denied = check?.(req.headers);
    if (denied) await reply.code(denied.status).send({ error: { message: denied.message, type: denied.type, param: null, code: denied.code } });
  };

  app.get('/admin/calls', { onRequest: guard }, async (req, reply) => {
    let q;
    try {
      q = readParams(CALLS_PARAMS, new URL(req.url, 'http://gatelog.invalid').searchParams);
    } catch (err) {
      if (!(err instanceof ReadParamError)) throw err;
      return reply.code(400).send({ error: { message: err.message, type: 'invalid_request_error', param: err.param, code: err.code } });
    }
    const rows = await listCalls(deps.store, { ...q, limit: q.limit ?? 50 });
    return { object: 'list', data: rows };
  });

  app.get<{ Params: { id: string } }>('/admin/calls/:id', { onRequest: guard }, async (req, reply) => {
    const call = await getCall(deps.store, req.params.id);
    if (!call) return reply.code(404).send({ error: { message: `No recorded call with id ${JSON.stringify(req.params.id.slice(0, 64))}.`, type: 'invalid_request_error', param: 'id', code: 'call_not_found' } });
    // A body is shown only once its view is in the audit trail.
    await appendAudit(deps.store, {
      action: 'call.view', actor: deps.masterKey ? 'master' : 'open-proxy', role: 'owner', targetType: 'call', target: call.request_id,
      details: { via: 'api', trace_id: call.trace_id }, sourceIp: req.ip, userAgent: req.headers['user-agent'],
    });
    return call;
  });
}

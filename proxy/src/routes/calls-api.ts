// Read API over recorded calls, served by every proxy with a store: `GET /admin/calls` and
// `GET /admin/calls/:id`, for scripts and tests that want a call's record without the UI
// (LiteLLM users know this as /spend/logs).
// Guarded by the master key when one is set; responses never include credentials, because
// events never hold any. Every read of one call (its bodies) is audited as `call.view`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, getCall, listCalls, type Store } from '@gatelog/core';
import { createAuthCheck } from '../auth.ts';

export function registerCallsApi(app: FastifyInstance, deps: { store: Store; masterKey: string | undefined }): void {
  // Master key only (a virtual key cannot read other callers' calls); open without one.
  const check = createAuthCheck(deps.masterKey);
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const denied = check?.(req.headers);
    if (denied) await reply.code(denied.status).send({ error: { message: denied.message, type: denied.type, param: null, code: denied.code } });
  };

  app.get<{ Querystring: { model?: string; status?: string; key?: string; limit?: string } }>(
    '/admin/calls',
    { onRequest: guard },
    async (req) => {
      const { model, status, key, limit } = req.query;
      const rows = await listCalls(deps.store, {
        model: model || undefined,
        status: status === 'ok' || status === 'error' ? status : undefined,
        key: key || undefined,
        limit: limit ? Number(limit) || 50 : 50,
      });
      return { object: 'list', data: rows };
    },
  );

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

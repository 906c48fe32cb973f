// Read API over recorded calls: `GET /admin/calls` and `GET /admin/calls/:id`, for scripts and
// tests that want a call's record without the UI (LiteLLM users know this as /spend/logs).
// Guarded by the master key when one is set; responses never include credentials, because
// events never hold any.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { getCall, listCalls, type Store } from '@gatelog/core';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

function deny(reply: FastifyReply): FastifyReply {
  return reply.code(401).send({ error: { message: 'A valid master key is required (Authorization: Bearer <GATELOG_MASTER_KEY>).', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
}

export function registerCallsApi(app: FastifyInstance, deps: { store: Store; masterKey: string | undefined }): void {
  const want = deps.masterKey === undefined ? undefined : digest(deps.masterKey);
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!want) return;
    const got = presentedKey(req);
    if (got === undefined || !timingSafeEqual(digest(got), want)) await deny(reply);
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
    return call;
  });
}

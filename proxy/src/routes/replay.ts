// POST /admin/replay {request_id, model?, body?}: send a recorded call again, as a new call
// linked to the original (replay_of), against another alias or model and optionally with an
// edited body. The replay goes through this proxy's own /v1 route (app.inject), so governance,
// routing, recording and cost apply exactly as to a client's call: it is admitted as the
// original's virtual key (its model allow-list, rate limits and budgets; refused when that key
// is revoked or expired) and recorded with that key plus replay_of. A streamed original is
// replayed without streaming, so the answer can be compared whole.
// Who: a role that may read bodies and replay calls (roles.ts). The UI calls with the master
// key for the signed-in person (x-gatelog-acting-for), whose role and teams are then checked.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { appendAudit, getCall, type Store } from '@gatelog/core';
import { can, inScope } from '@gatelog/core/roles';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import { REPLAY_HEADER, replayMark } from '../replay-mark.ts';
import { replayKeyRefusal } from '../governance/admit.ts';
import { REQUEST_ID_HEADER } from '../request-state.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface ReplayRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  masterKey: string | undefined;
}

const ReplayInput = z.object({
  request_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a request id'),
  model: z.string().min(1).max(256).optional(),
  /** The request body to send instead of the recorded one (JSON text). */
  body: z.string().max(8 * 1024 * 1024).optional(),
});

/** The client APIs a replay can speak, and the /v1 path each is sent to. */
const PATHS: Readonly<Record<string, string>> = { 'openai.chat': '/v1/chat/completions', 'anthropic.messages': '/v1/messages' };

function jsonObject(text: string, param: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The request body to replay is not valid JSON.', param);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid_body', 'The request body to replay must be a JSON object.', param);
  return v as Record<string, unknown>;
}

export function replayRoutes(deps: ReplayRouteDeps) {
  const { store, gov } = deps;
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(gov, store));
    app.post('/replay', async (req, reply) => {
      const r = ReplayInput.safeParse(req.body ?? {});
      if (!r.success) {
        const i = r.error.issues[0];
        throw badRequest('invalid_replay', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`, i?.path.join('.') || null);
      }
      const input = r.data;
      const who = principalOf(req);
      if (!can(who.role, 'bodies.read') || !can(who.role, 'calls.replay')) {
        throw new ProxyError(403, 'role_forbidden', `The role "${who.role}" may not replay calls (it needs bodies.read and calls.replay).`, 'permission_error');
      }
      const original = await getCall(store, input.request_id);
      if (!original || !inScope(who, original.team)) throw new ProxyError(404, 'call_not_found', 'No recorded call with this id.', 'not_found_error', 'request_id');
      const path = PATHS[original.client_api];
      if (!path) throw badRequest('replay_unsupported', `Calls made as ${original.client_api} cannot be replayed; chat completions and messages can.`, 'request_id');
      const keyRefusal = original.key_id ? replayKeyRefusal(gov.ring.byId(original.key_id), original.key_id, gov.now()) : undefined;
      if (keyRefusal) throw new ProxyError(keyRefusal.status, keyRefusal.code, keyRefusal.message, 'permission_error', 'request_id');
      if (input.body === undefined && original.truncated) throw badRequest('replay_truncated', 'The recorded request body was truncated; send the body to replay.', 'body');
      const json = jsonObject(input.body ?? original.request_body, input.body === undefined ? 'request_id' : 'body');
      json['model'] = input.model ?? original.requested_model;
      json['stream'] = false;
      delete json['stream_options'];
      const res = await app.inject({
        method: 'POST',
        url: path,
        headers: {
          'content-type': 'application/json',
          ...(deps.masterKey ? { authorization: `Bearer ${deps.masterKey}` } : {}),
          [REPLAY_HEADER]: replayMark.header({ requestId: original.request_id, team: original.team, keyId: original.key_id }),
          ...(original.client_api === 'anthropic.messages' ? { 'anthropic-version': '2023-06-01' } : {}),
        },
        payload: JSON.stringify(json),
      });
      const newId = String(res.headers[REQUEST_ID_HEADER] ?? '');
      await appendAudit(store, {
        ...auditWho(req),
        at: new Date(gov.now()),
        action: 'call.replay',
        targetType: 'call',
        target: original.request_id,
        details: { replay_request_id: newId, model: json['model'], edited: input.body !== undefined, status: res.statusCode },
      });
      let answer: unknown = null;
      try {
        answer = JSON.parse(res.body);
      } catch {
        answer = res.body;
      }
      return reply.code(200).send({ request_id: newId, replay_of: original.request_id, status: res.statusCode, response: answer });
    });
    done();
  };
}

// Feedback and scores on recorded calls (core/src/store/feedback.ts):
//   POST /v1/feedback                  an application, with its virtual key: {request_id | trace_id,
//                                      value −10..10, name?, comment?, weight? 0..1, metadata?}
//                                      (Portkey's `trace_id`/`value`/`weight`/`metadata` and gatelog's own)
//   PUT|POST /admin/calls/:id/feedback a person or machine token whose role may (calls.feedback),
//                                      on a call its team scope shows: {value, name?, comment?}
// A key's feedback is written with the key and attaches only to calls that key made (read
// side, feedback.ts), so a call can be scored the moment it answered, before ingest stored it,
// and a key naming another key's call gets the answer a made-up id gets. A person's write is
// checked against the stored call (404 outside their teams, as for an absent one) and audited as
// `calls.feedback` (request id, name and value; never the comment). When the store refuses the
// write the answer is 503: feedback is never acknowledged unless it is stored. Feedback on a call
// an erasure took (or a trace whose calls it all took), with no legal hold over it, is refused
// with 409 `call_erased` rather than taken and then hidden and removed (namesErasedCalls).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, getCall, type Store } from '@gatelog/core';
import { FeedbackBusyError, FeedbackInputError, namesErasedCalls, parseFeedback, type FeedbackAuthor, type FeedbackInput, type FeedbackWriter } from '@gatelog/core/store/feedback';
import { inScope, type Principal } from '@gatelog/core/roles';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { parseJsonBody } from './body.ts';
import { adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Caller } from '../auth.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface FeedbackRouteDeps {
  store: Store;
  /** Batches the writes of both routes (core/src/store/feedback.ts feedbackWriter). */
  writer: FeedbackWriter;
  gov: Governance;
  metrics: ProxyMetrics;
}

function checked(body: Record<string, unknown>, surface: 'api' | 'person'): FeedbackInput {
  try {
    return parseFeedback(body, surface);
  } catch (err) {
    if (err instanceof FeedbackInputError) throw badRequest(err.code, err.message, err.param);
    throw err;
  }
}

const storeUnavailable = (): ProxyError => new ProxyError(503, 'store_unavailable', 'The feedback could not be stored right now; send it again.', 'service_unavailable');

/** 409 when `f` names only what an erasure took (see the top of this file); 503 when the store cannot tell. */
async function refuseErased(deps: FeedbackRouteDeps, keyId: string, f: FeedbackInput, param: string): Promise<void> {
  let erased: boolean;
  try {
    erased = await namesErasedCalls(deps.store, keyId, f);
  } catch {
    throw storeUnavailable();
  }
  if (!erased) return;
  const what = f.requestId ? 'This call was erased' : 'Every call of this trace was erased';
  throw new ProxyError(409, 'call_erased', `${what} (an erasure removed its personal data), so feedback on it is not kept.`, 'invalid_request_error', param);
}

/**
 * Stores it, or answers 429 while too many of this key's writes wait (503 for all of them), and
 * 503 when the store cannot take it: never a success that was not stored.
 */
async function save(deps: FeedbackRouteDeps, f: FeedbackInput, who: FeedbackAuthor, reply: FastifyReply): Promise<void> {
  try {
    await deps.writer.write(f, who, deps.gov.now());
  } catch (err) {
    if (err instanceof FeedbackBusyError && err.scope === 'key') {
      void reply.header('retry-after', '1');
      throw new ProxyError(429, 'rate_limit_exceeded', 'Too many feedback writes of this key are waiting to be stored; send it again in a second.', 'requests');
    }
    throw storeUnavailable();
  }
}

const answer = (f: FeedbackInput, by: string) => ({
  object: 'feedback', status: 'success', message: 'Feedback recorded.',
  request_id: f.requestId || null, trace_id: f.traceId || null, name: f.name, value: f.value, by,
});

/** POST /v1/feedback, registered under /v1 (OpenAI's error shape). */
export function feedbackApiRoutes(deps: FeedbackRouteDeps) {
  const callers = new WeakMap<FastifyRequest, Caller>();
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    // Raw bytes, parsed once here, so a malformed body is answered as on the model routes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, next) => next(null, body));
    app.addHook('onRequest', async (req) => {
      const c = deps.gov.auth.identify(req.headers, deps.gov.now());
      if (c instanceof ProxyError) throw c;
      // Feedback names the key it is about: the master key made no call of its own to score.
      if (c.kind === 'master') throw new ProxyError(403, 'virtual_key_required', 'Send feedback with the virtual key that made the call.', 'permission_error');
      callers.set(req, c);
    });
    app.post('/feedback', async (req, reply) => {
      const caller = callers.get(req);
      const f = checked(parseJsonBody(req.body).json, 'api');
      const key = caller?.kind === 'key' ? caller.key : undefined;
      const by = key ? `key:${key.id}` : 'open';
      await refuseErased(deps, key?.id ?? '', f, f.requestId ? 'request_id' : 'trace_id');
      await save(deps, f, { by, source: 'api', keyId: key?.id ?? '', team: key?.team ?? '', user: '' }, reply);
      return answer(f, by);
    });
    done();
  };
}

/** The author a person's or token's row names (never a secret). */
function authorOf(p: Principal): string {
  if (p.kind === 'user') return `person:${p.name}`;
  if (p.kind === 'token') return `token:${p.id}`;
  return p.id;
}

/** PUT and POST /admin/calls/:id/feedback, registered under /admin. */
export function feedbackAdminRoutes(deps: FeedbackRouteDeps) {
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    // The role check (calls.feedback) is the guard's: admin-principal.ts adminActionFor.
    app.addHook('onRequest', adminGuard(deps.gov, deps.store));
    const handler = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const body = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid_body', 'Request body must be a JSON object.');
      const input = checked(body as Record<string, unknown>, 'person');
      const p = principalOf(req);
      const call = await getCall(deps.store, req.params.id);
      // Outside a team-scoped caller's teams, the call does not exist for them.
      if (!call || !inScope(p, call.team)) throw new ProxyError(404, 'call_not_found', `No recorded call with id ${JSON.stringify(req.params.id.slice(0, 64))}.`, 'not_found_error', 'id');
      const f = { ...input, requestId: call.request_id.toLowerCase(), traceId: '' };
      const by = authorOf(p);
      await refuseErased(deps, call.key_id, f, 'id');
      await save(deps, f, { by, source: 'ui', keyId: call.key_id, team: call.team, user: call.user }, reply);
      await appendAudit(deps.store, {
        ...auditWho(req), at: new Date(deps.gov.now()), action: 'calls.feedback', targetType: 'call', target: call.request_id,
        details: { name: f.name, value: f.value, comment: f.comment !== '' },
      });
      return answer(f, by);
    };
    app.put('/calls/:id/feedback', handler);
    app.post('/calls/:id/feedback', handler);
    done();
  };
}

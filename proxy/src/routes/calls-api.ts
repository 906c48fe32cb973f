// Read API over recorded calls, served by every proxy with a store: `GET /admin/calls` and
// `GET /admin/calls/:id`, for scripts and tests that want a call's record without the UI
// (LiteLLM users know this as /spend/logs).
// The list takes the requests explorer's filters (core explorer-params: from, to, range, model,
// provider, key, team, user, status, error, cache, stream, replay, tags, trace, session, costMin,
// costMax, latMin, latMax, q, match, feedback, sort, dir — the UI's and /admin/export's parameters) plus
// `limit` and `cursor` (or the explorer's `before`), and pages by keyset (`next_cursor` while
// `has_more`). Every parameter is checked: a malformed or unknown one is a 400 naming it, never
// a silently wider answer.
// Guarded by the master key when one is set; responses never include credentials, because
// events never hold any. Every read of one call (its bodies) is audited as `call.view`; a list
// carries prompt previews only for a caller who may read bodies (roles.ts `mayReadBodies`, the
// UI's rule too), and such a list is audited as `calls.list`, naming the calls it showed; a
// search of the bodies (`q`) needs that permission too and is audited as `calls.search`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, encodeAfter, explorerQuery, getCall, parseAfter, parseExplorer, toFilter, type Store } from '@gatelog/core';
import { listExplorer } from '@gatelog/core/store/explorer-queries';
import { checkExplorerApiParams, Limit, readParams, ReadParamError } from '@gatelog/core/store/read-params';
import { toProxyError } from '../errors.ts';
import type { Governance } from '../governance/runtime.ts';
import { principalOf } from '../admin-principal.ts';
import { inScope, mayReadBodies } from '@gatelog/core/roles';
import { adminGuard, auditWho } from './admin-caller.ts';
import { feedbackForCall, feedbackSummaries } from '@gatelog/core/store/feedback';

/** The list's own parameters besides the explorer's. */
const LIST_PARAMS = { limit: Limit(500).optional() };

/** The cursor's checks speak of `cursor`, the API's name for the explorer's `before`. */
const cursorNamed = (err: ReadParamError): ReadParamError =>
  err.param === 'before' ? new ReadParamError('cursor', err.message.replace('parameter before', 'parameter cursor')) : err;

/**
 * The query's filters, page size and cursor, or a ReadParamError naming the first bad
 * parameter. `cursor` pages; the explorer's own name for it, `before`, is read too, so a query
 * string copied from the UI works.
 */
function readListQuery(search: URLSearchParams) {
  if (search.has('cursor') && search.has('before')) throw new ReadParamError('cursor', 'Give the page cursor once, as cursor.');
  const params = new URLSearchParams(search);
  const cursor = search.getAll('cursor');
  if (cursor.length) {
    params.delete('cursor');
    for (const c of cursor) params.append('before', c);
  }
  try {
    checkExplorerApiParams(params, ['limit', 'before']);
  } catch (err) {
    throw err instanceof ReadParamError ? cursorNamed(err) : err;
  }
  const { limit } = readParams(LIST_PARAMS, params);
  const state = parseExplorer(params);
  return { state, limit: limit ?? 50, after: parseAfter(params.get('before'), state.sort) };
}

export function registerCallsApi(app: FastifyInstance, deps: { store: Store; masterKey: string | undefined; gov: Governance }): void {
  // The master key, or a machine token whose role may read calls (bodies: bodies.read); a
  // virtual key cannot read other callers' calls; open without a master key.
  const check = adminGuard(deps.gov, deps.store);
  const openActor = (req: FastifyRequest): { actor?: string } => (deps.masterKey || principalOf(req).kind !== 'open' ? {} : { actor: 'open-proxy' });
  // These routes sit outside the admin plugins' error handler: errors answer in the API's shape
  // here (the credential check, and the query check query-guard.ts attaches to /admin/calls/:id).
  const refuse = (err: unknown, reply: FastifyReply): FastifyReply => {
    const e = toProxyError(err);
    return reply.code(e.status).send({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
  };
  const answer = (err: unknown, _req: FastifyRequest, reply: FastifyReply): void => void refuse(err, reply);
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      await check(req);
    } catch (err) {
      await refuse(err, reply);
    }
  };
  const bad = (reply: FastifyReply, err: ReadParamError) =>
    reply.code(400).send({ error: { message: err.message, type: 'invalid_request_error', param: err.param, code: err.code } });

  app.get('/admin/calls', { onRequest: guard }, async (req, reply) => {
    let q;
    try {
      q = readListQuery(new URL(req.url, 'http://gatelog.invalid').searchParams);
    } catch (err) {
      if (!(err instanceof ReadParamError)) throw err;
      return bad(reply, err);
    }
    const p = principalOf(req);
    const previews = mayReadBodies(p);
    // Searching the bodies would reveal them: roles without bodies.read filter by metadata only.
    if (q.state.q && !previews) {
      return reply.code(403).send({ error: { message: `The role "${p.role}" may not search prompt and response text (bodies.read).`, type: 'permission_error', param: 'q', code: 'role_forbidden' } });
    }
    // What people search the bodies for is audited (as the UI's explorer does), before the answer.
    if (q.state.q) {
      await appendAudit(deps.store, {
        ...auditWho(req), ...openActor(req), action: 'calls.search', targetType: 'llm_calls', target: '',
        details: { via: 'api', text: q.state.q, match: q.state.match || 'words', filter: explorerQuery(q.state), paged: q.after !== undefined },
      });
    }
    let page;
    try {
      page = await listExplorer(deps.store, { ...toFilter(q.state), ...(p.teams.length ? { teams: p.teams } : {}) }, { sort: q.state.sort, dir: q.state.dir, after: q.after, limit: q.limit });
    } catch (err) {
      if (!(err instanceof ReadParamError)) throw err;
      return bad(reply, cursorNamed(err));
    }
    // Each row's feedback in brief (count, lowest and mean value; null without any): one read for the page.
    const scores = await feedbackSummaries(deps.store, page.rows);
    const data = page.rows.map(({ sort_value: _sort, ...r }) => ({ ...(previews ? r : { ...r, preview: '', prompt_preview: '' }), feedback: scores.get(r.request_id) ?? null }));
    // Previews are prompt text: the list is answered only once its read is in the audit trail.
    if (previews && data.length) {
      await appendAudit(deps.store, {
        ...auditWho(req), ...openActor(req), action: 'calls.list', targetType: 'llm_calls', target: '',
        details: { via: 'api', calls: data.map((r) => r.request_id), bodies: true },
      });
    }
    return { object: 'list', data, has_more: page.next !== undefined, next_cursor: page.next ? encodeAfter(page.next) : null };
  });

  app.get<{ Params: { id: string } }>('/admin/calls/:id', { onRequest: guard, config: { query: [] }, errorHandler: answer }, async (req, reply) => {
    const call = await getCall(deps.store, req.params.id);
    // Outside a team-scoped caller's teams, the call does not exist for them.
    if (!call || !inScope(principalOf(req), call.team)) return reply.code(404).send({ error: { message: `No recorded call with id ${JSON.stringify(req.params.id.slice(0, 64))}.`, type: 'invalid_request_error', param: 'id', code: 'call_not_found' } });
    // A body is shown only once its view is in the audit trail.
    await appendAudit(deps.store, {
      ...auditWho(req), ...openActor(req), action: 'call.view', targetType: 'call', target: call.request_id,
      details: { via: 'api', trace_id: call.trace_id },
    });
    // The call's feedback (feedback.ts: by its own key, on it or its trace), comments included: bodies.read, as the call's bodies.
    return { ...call, feedback: await feedbackForCall(deps.store, call) };
  });
}

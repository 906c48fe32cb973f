import { error, fail } from '@sveltejs/kit';
import { isRequestId } from '#lib/filters.ts';
import { requestMessages, responseMessages } from '#lib/bodies.ts';
import { curlCommand } from '#lib/curl.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { getDetail } from '#lib/server/calls.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { hideBodies, mayReadBodies, visible } from '#lib/server/permissions.server.ts';
import { adminBaseUrl, adminCall } from '#lib/server/admin-api.server.ts';
import { callFor } from '#lib/server/replay.server.ts';
import { feedbackView, mayGiveFeedback } from '#lib/server/feedback.server.ts';
import { namesErasedCalls } from '@gatelog/core/store/feedback';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const { params } = event;
  if (!isRequestId(params.id)) error(404, 'No request with this id.');
  const { store } = await uiContext();
  let call;
  let feedback;
  let erased = false;
  try {
    call = await getDetail(store, params.id);
    feedback = call ? await feedbackView(store, call, event.locals.principal) : [];
    // An erased call (no legal hold over it) takes no feedback (409 from the proxy): no controls.
    if (call && mayGiveFeedback(event.locals.principal)) erased = await namesErasedCalls(store, call.key_id, { requestId: call.request_id, traceId: '' });
  } catch (err) {
    console.error('gatelog ui: reading a request failed', err);
    error(503, 'The request log is not available right now.');
  }
  // Outside a team-scoped person's teams, the call does not exist for them.
  if (!call || !visible(event.locals.principal, call.team)) error(404, 'No request with this id.');
  const marks = { feedback, erased, mayFeedback: mayGiveFeedback(event.locals.principal) && !erased };
  // A role without bodies.read sees the metadata; nothing of a body leaves the server.
  if (!mayReadBodies(event.locals.principal)) return { ...hideBodies(call), ...marks };
  // The page carries the bodies (and their raw JSON): one `call.view` row per view.
  await recordAudit(event, { action: 'call.view', targetType: 'call', target: call.request_id, details: { via: 'ui', page: 'request' } });
  return {
    call,
    prompt: requestMessages(call.request_body),
    answer: responseMessages(call.response_body),
    curl: curlCommand(call),
    ...marks,
  };
};

export const actions: Actions = {
  // Thumbs up or down with an optional comment: the proxy's PUT /admin/calls/:id/feedback stores
  // and audits it for the signed-in person (their role and teams checked there too).
  feedback: async (event) => {
    const p = event.locals.principal;
    if (!mayGiveFeedback(p) || !p) error(403, 'Marking calls is not available for your role.');
    const call = await callFor(event, event.params.id);
    const form = await event.request.formData();
    const value = Number(form.get('value'));
    const comment = String(form.get('comment') ?? '').replace(/\r\n/g, '\n').trim();
    if (value !== 1 && value !== -1) return fail(400, { feedbackMessage: 'Choose thumbs up or thumbs down.', comment });
    const { masterKey, adminUrl } = await uiContext();
    const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'POST', `/admin/calls/${call.request_id}/feedback`, { value, ...(comment ? { comment } : {}) }, 10_000, p);
    if (!r.ok) return fail(r.status >= 400 && r.status <= 599 ? r.status : 502, { feedbackMessage: r.message || 'The feedback was not recorded.', comment });
    return { feedbackSaved: true };
  },
};

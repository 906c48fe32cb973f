// Replay a recorded call against another alias or model, optionally with an edited body: the
// proxy's POST /admin/replay sends it through the normal pipeline as a new call (replay_of set)
// and audits it; then the compare view shows both. The body is sent only when it was edited,
// so an unedited replay sends the recorded bytes exactly (with the model and stream changed).
import { error, fail, redirect } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall, failStatus } from '#lib/server/admin-api.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { callFor, editableBody, mayReplay, REPLAYABLE } from '#lib/server/replay.server.ts';
import type { Actions, PageServerLoad } from './$types';

/** A replay waits for the model's whole answer (not streamed). */
const REPLAY_TIMEOUT_MS = 120_000;
export const load: PageServerLoad = async (event) => {
  if (!mayReplay(event.locals.principal)) error(403, 'Replaying calls is not available for your role.');
  const call = await callFor(event, event.params.id);
  const replayable = REPLAYABLE.has(call.client_api) && !call.truncated;
  if (replayable) await recordAudit(event, { action: 'call.view', targetType: 'call', target: call.request_id, details: { via: 'ui', page: 'replay' } });
  return {
    call: { request_id: call.request_id, requested_model: call.requested_model, client_api: call.client_api, stream: call.stream, truncated: call.truncated },
    replayable,
    body: replayable ? editableBody(call.request_body) : '',
  };
};

export const actions: Actions = {
  default: async (event) => {
    const p = event.locals.principal;
    if (!mayReplay(p) || !p) error(403, 'Replaying calls is not available for your role.');
    const call = await callFor(event, event.params.id);
    const form = await event.request.formData();
    const model = String(form.get('model') ?? '').trim();
    const body = String(form.get('body') ?? '').replace(/\r\n/g, '\n');
    if (!model || model.length > 256) return fail(400, { message: 'Name the alias or model to replay against.', model, body });
    const edited = body.trim() !== editableBody(call.request_body).trim();
    const { masterKey, adminUrl } = await uiContext();
    const r = await adminCall(
      adminBaseUrl(event, adminUrl),
      masterKey,
      'POST',
      '/admin/replay',
      { request_id: call.request_id, model, ...(edited ? { body } : {}) },
      REPLAY_TIMEOUT_MS,
      p,
    );
    const id = (r.body as { request_id?: unknown } | null)?.request_id;
    if (!r.ok || typeof id !== 'string' || !id) return fail(failStatus(r.status), { message: r.message || 'The replay was not recorded.', model, body });
    redirect(303, `/requests/${call.request_id}/compare?with=${encodeURIComponent(id)}`);
  },
};

import { error } from '@sveltejs/kit';
import { isRequestId } from '#lib/filters.ts';
import { requestMessages, responseMessages } from '#lib/bodies.ts';
import { curlCommand } from '#lib/curl.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { getDetail } from '#lib/server/calls.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { hideBodies, mayReadBodies, visible } from '#lib/server/permissions.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const { params } = event;
  if (!isRequestId(params.id)) error(404, 'No request with this id.');
  const { store } = await uiContext();
  let call;
  try {
    call = await getDetail(store, params.id);
  } catch (err) {
    console.error('gatelog ui: reading a request failed', err);
    error(503, 'The request log is not available right now.');
  }
  // Outside a team-scoped person's teams, the call does not exist for them.
  if (!call || !visible(event.locals.principal, call.team)) error(404, 'No request with this id.');
  // A role without bodies.read sees the metadata; nothing of a body leaves the server.
  if (!mayReadBodies(event.locals.principal)) return hideBodies(call);
  // The page carries the bodies (and their raw JSON): one `call.view` row per view.
  await recordAudit(event, { action: 'call.view', targetType: 'call', target: call.request_id, details: { via: 'ui', page: 'request' } });
  return {
    call,
    prompt: requestMessages(call.request_body),
    answer: responseMessages(call.response_body),
    curl: curlCommand(call),
  };
};

// Replay and compare (routes requests/[id]/replay and /compare): who may replay, and one read
// of a call for those pages, through the same function the request page uses (getDetail).
import { error, type RequestEvent } from '@sveltejs/kit';
import { can, type Principal } from '@gatelog/core/roles';
import type { CallDetail } from '@gatelog/core/store/queries';
import { isRequestId } from '#lib/filters.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { getDetail } from '#lib/server/calls.server.ts';
import { visible } from '#lib/server/permissions.server.ts';

/** The client APIs a call can be replayed from (the proxy's POST /admin/replay speaks these). */
export const REPLAYABLE = new Set(['openai.chat', 'anthropic.messages']);

/** Replaying sends a recorded body again: it needs reading bodies and making calls. */
export const mayReplay = (p: Principal | undefined): boolean => p !== undefined && can(p.role, 'bodies.read') && can(p.role, 'calls.replay');

/** The call `id` as `event`'s person may see it: 404 when absent or outside their teams. */
export async function callFor(event: Pick<RequestEvent, 'locals'>, id: string): Promise<CallDetail> {
  if (!isRequestId(id)) error(404, 'No request with this id.');
  const { store } = await uiContext();
  let call: CallDetail | null;
  try {
    call = await getDetail(store, id);
  } catch (err) {
    console.error('gatelog ui: reading a request failed', err);
    error(503, 'The request log is not available right now.');
  }
  if (!call || !visible(event.locals.principal, call.team)) error(404, 'No request with this id.');
  return call;
}

/** The request body as the replay form shows it: indented when it is JSON. */
export function editableBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

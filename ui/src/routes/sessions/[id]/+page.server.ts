import { loadThread } from '#lib/server/thread.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { previewsFor } from '#lib/server/permissions.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const thread = await loadThread('session', event.params.id);
  // Its calls' bodies are on the page: one `session.view` row per view, naming the calls shown.
  await recordAudit(event, { action: 'session.view', targetType: 'session', target: thread.id, details: { via: 'ui', calls: thread.calls.map((c) => c.request_id) } });
  return { thread: { ...thread, calls: previewsFor(event.locals.principal, thread.calls) } };
};

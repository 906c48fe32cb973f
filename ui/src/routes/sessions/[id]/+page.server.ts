import { loadThread } from '#lib/server/thread.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { mayReadBodies, previewsFor } from '#lib/server/permissions.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  // A team-scoped person sees only their teams' calls of it, and totals over those (404 when none).
  const p = event.locals.principal;
  const thread = await loadThread('session', event.params.id, p);
  // Its calls' body previews are on the page: one `session.view` row per view, naming the calls
  // shown and whether this role saw their bodies.
  await recordAudit(event, { action: 'session.view', targetType: 'session', target: thread.id, details: { via: 'ui', calls: thread.calls.map((c) => c.request_id), bodies: mayReadBodies(p) } });
  return { thread: { ...thread, calls: previewsFor(p, thread.calls) } };
};

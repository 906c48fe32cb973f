import { loadThread } from '#lib/server/thread.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { mayReadBodies, previewsFor, visible } from '#lib/server/permissions.server.ts';
import { error } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const all = await loadThread('trace', event.params.id);
  // A team-scoped person sees only their teams' calls of it.
  const p = event.locals.principal;
  const thread = { ...all, calls: all.calls.filter((c) => visible(p, c.team)) };
  if (thread.calls.length === 0) error(404, 'No trace with this id.');
  // Its calls' body previews are on the page: one `trace.view` row per view, naming the calls
  // shown and whether this role saw their bodies.
  await recordAudit(event, { action: 'trace.view', targetType: 'trace', target: thread.id, details: { via: 'ui', calls: thread.calls.map((c) => c.request_id), bodies: mayReadBodies(p) } });
  return { thread: { ...thread, calls: previewsFor(p, thread.calls) } };
};

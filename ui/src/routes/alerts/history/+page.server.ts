// /alerts/history: every firing, recovery and delivery attempt (newest first) from the admin
// API's GET /admin/alerts/events, narrowed by rule and kind; a team-scoped person sees their
// teams' events only (visibleEvents, the API's rule).
import { error } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall } from '#lib/server/admin-api.server.ts';
import { alertRules, visibleEvents, type EventView } from '#lib/server/alerts.server.ts';
import type { PageServerLoad } from './$types';

const KINDS = ['fired', 'resolved', 'delivery'] as const;

export const load: PageServerLoad = async (event) => {
  const rule = event.url.searchParams.get('rule') ?? '';
  const kindParam = event.url.searchParams.get('kind') ?? '';
  const kind = (KINDS as readonly string[]).includes(kindParam) ? kindParam : '';
  const scoped = (event.locals.principal?.teams.length ?? 0) > 0;
  const q = new URLSearchParams({ limit: scoped ? '1000' : '500' });
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(rule)) q.set('rule', rule);
  if (kind) q.set('kind', kind);
  const { masterKey, adminUrl } = await uiContext();
  const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'GET', `/admin/alerts/events?${q.toString()}`);
  if (!r.ok) error(r.status === 403 ? 403 : 502, `Alert history could not be read: ${r.message}`);
  const events = (r.body as { data: EventView[] }).data;
  return { events: scoped ? await visibleEvents(event.locals.principal, events, (await alertRules(event)).data, 500) : events, rule: q.get('rule') ?? '', kind, kinds: KINDS };
};

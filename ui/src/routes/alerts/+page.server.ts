// /alerts: every rule (from gatelog.yaml and made here) with what is firing now, the channels
// (URLs masked by the API) and the latest transitions. Reads and writes both go through the
// proxy's admin API (/admin/alerts/*), so this page shows exactly the rules the evaluator runs;
// writes need `settings.write` (owner, admin: permissions.server.ts) and are audited there.
// The API is called with the master key, so team scope is applied here with the API's own rule
// (core/src/alerts/visibility.ts): a scoped person sees their teams' rules and events only, and
// changes only rules wholly inside their teams.
import { fail } from '@sveltejs/kit';
import { failStatus } from '#lib/server/admin-api.server.ts';
import { alertRules, alertsApi as api, everyone, keysFor, visibleEvents, type EventView } from '#lib/server/alerts.server.ts';
import { alertRuleBody, FORM_KINDS } from '#lib/alert-form.ts';
import { can } from '@gatelog/core/roles';
import { eventVisible, mayEditRule, ruleVisible } from '@gatelog/core/alerts/visibility';
import type { AlertRule } from '@gatelog/core/alerts/rule';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const load: PageServerLoad = async (event) => {
  const p = event.locals.principal;
  // A scoped person's latest 20 are looked for among the latest 1,000.
  const [r, events, keys] = await Promise.all([alertRules(event), api(event, 'GET', `/admin/alerts/events?kind=fired&limit=${p?.teams.length ? 1000 : 20}`), keysFor(p)]);
  const recent = events.ok ? await visibleEvents(p, (events.body as { data: EventView[] }).data, r.data, 20) : [];
  const rules = r.data
    .filter((x) => ruleVisible(p ?? everyone, x.rule, keys))
    .map((x) => ({ ...x, firing: x.firing.filter((subject) => eventVisible(p ?? everyone, { subject }, x.rule, keys)) }));
  const editId = event.url.searchParams.get('edit');
  // Roles without settings.write see the rules and their state, not the forms (their POSTs get 403 in hooks.server.ts).
  const canWrite = p !== undefined && can(p.role, 'settings.write');
  const editing = editId && canWrite ? rules.find((x) => x.rule.id === editId && x.source === 'ui' && mayEditRule(p, x.rule, keys)) ?? null : null;
  return { rules, channels: r.channels, interval_s: r.interval_s, recent, kinds: FORM_KINDS, editing, canWrite };
};

/**
 * Refuses (403) a change the person may not make: a rule outside their teams before or after
 * it. The API sees the master key, so this is where a scoped admin's limit is enforced.
 */
async function mayChange(event: RequestEvent, id: string | null, next: Record<string, unknown> | null): Promise<string | null> {
  const p = event.locals.principal;
  if (!p?.teams.length) return null;
  const keys = await keysFor(p);
  const cur = id ? (await alertRules(event)).data.find((x) => x.rule.id === id) : undefined;
  if (cur && !mayEditRule(p, cur.rule, keys)) return 'This rule is outside your teams.';
  const scope = (next?.['scope'] ?? cur?.rule.scope ?? {}) as AlertRule['scope'];
  if (next && !mayEditRule(p, { scope }, keys)) return 'Alert rules you change must name one of your teams (a team, or a key of your team).';
  return null;
}

const idOf = (form: FormData): string | null => {
  const id = form.get('id');
  return typeof id === 'string' && ID_RE.test(id) ? id : null;
};

export const actions: Actions = {
  save: async (event) => {
    const form = await event.request.formData();
    const body = alertRuleBody(form);
    const editing = form.get('editing') === 'yes';
    const id = idOf(form);
    if (editing && !id) return fail(400, { action: 'save' as const, message: 'The rule id is malformed.' });
    const refused = await mayChange(event, editing ? id : null, body);
    if (refused) return fail(403, { action: 'save' as const, message: refused });
    const r = editing
      ? await api(event, 'PATCH', `/admin/alerts/rules/${encodeURIComponent(id ?? '')}`, { ...body, id: undefined })
      : await api(event, 'POST', '/admin/alerts/rules', body);
    if (!r.ok) return fail(failStatus(r.status), { action: 'save' as const, message: r.message });
    const saved = (r.body as { rule?: { id?: string } } | null)?.rule?.id ?? '';
    return { action: 'save' as const, saved };
  },

  toggle: async (event) => {
    const form = await event.request.formData();
    const id = idOf(form);
    if (!id) return fail(400, { action: 'toggle' as const, message: 'The rule id is malformed.' });
    const refused = await mayChange(event, id, null);
    if (refused) return fail(403, { action: 'toggle' as const, message: refused });
    const r = await api(event, 'PATCH', `/admin/alerts/rules/${encodeURIComponent(id)}`, { enabled: form.get('enabled') === 'true' });
    if (!r.ok) return fail(failStatus(r.status), { action: 'toggle' as const, message: r.message });
    return { action: 'toggle' as const, saved: id };
  },

  delete: async (event) => {
    const form = await event.request.formData();
    const id = idOf(form);
    if (!id) return fail(400, { action: 'delete' as const, message: 'The rule id is malformed.' });
    const refused = await mayChange(event, id, null);
    if (refused) return fail(403, { action: 'delete' as const, message: refused });
    const r = await api(event, 'DELETE', `/admin/alerts/rules/${encodeURIComponent(id)}`);
    if (!r.ok) return fail(failStatus(r.status), { action: 'delete' as const, message: r.message });
    return { action: 'delete' as const, deleted: id };
  },
};

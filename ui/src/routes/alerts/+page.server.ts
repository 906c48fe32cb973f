// /alerts: every rule (from gatelog.yaml and made here) with what is firing now, the channels
// (URLs masked by the API) and the latest transitions. Reads and writes both go through the
// proxy's admin API (/admin/alerts/*), so this page shows exactly the rules the evaluator runs;
// writes need `settings.write` (owner, admin: permissions.server.ts) and are audited there.
import { error, fail } from '@sveltejs/kit';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall } from '#lib/server/admin-api.server.ts';
import { alertRuleBody, FORM_KINDS } from '#lib/alert-form.ts';
import { can } from '@gatelog/core/roles';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const failStatus = (s: number): number => (s >= 400 && s <= 599 ? s : 502);

export interface RuleView {
  rule: { id: string; name?: string; kind: string; threshold: number; window_s: number; cooldown_s: number; min_calls: number; min_usd: number; scope: Record<string, string>; channels: string[]; enabled: boolean };
  source: 'config' | 'ui';
  firing: string[];
  updated_at?: string;
  updated_by?: string;
}
export interface EventView {
  at: string;
  rule_id: string;
  rule_name: string;
  subject: string;
  kind: string;
  message: string;
  channel: string;
  attempt: number;
  http_status: number;
  delivery_error: string;
}

const api = async (event: Pick<RequestEvent, 'url' | 'platform'>, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: object) => {
  const { masterKey, adminUrl } = await uiContext();
  return adminCall(adminBaseUrl(event, adminUrl), masterKey, method, path, body);
};

export const load: PageServerLoad = async (event) => {
  const [rules, events] = await Promise.all([api(event, 'GET', '/admin/alerts/rules'), api(event, 'GET', '/admin/alerts/events?kind=fired&limit=20')]);
  if (!rules.ok) error(rules.status === 403 ? 403 : 502, `Alert rules could not be read: ${rules.message}`);
  const r = rules.body as { data: RuleView[]; channels: { name: string; kind: string; url: string }[]; interval_s: number };
  const recent = events.ok ? (events.body as { data: EventView[] }).data : [];
  const editId = event.url.searchParams.get('edit');
  const editing = editId ? r.data.find((x) => x.rule.id === editId && x.source === 'ui') ?? null : null;
  // Roles without settings.write see the rules and their state, not the forms (their POSTs get 403 in hooks.server.ts).
  const canWrite = event.locals.principal !== undefined && can(event.locals.principal.role, 'settings.write');
  return { rules: r.data, channels: r.channels, interval_s: r.interval_s, recent, kinds: FORM_KINDS, editing: canWrite ? editing : null, canWrite };
};

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
    const r = await api(event, 'PATCH', `/admin/alerts/rules/${encodeURIComponent(id)}`, { enabled: form.get('enabled') === 'true' });
    if (!r.ok) return fail(failStatus(r.status), { action: 'toggle' as const, message: r.message });
    return { action: 'toggle' as const, saved: id };
  },

  delete: async (event) => {
    const form = await event.request.formData();
    const id = idOf(form);
    if (!id) return fail(400, { action: 'delete' as const, message: 'The rule id is malformed.' });
    const r = await api(event, 'DELETE', `/admin/alerts/rules/${encodeURIComponent(id)}`);
    if (!r.ok) return fail(failStatus(r.status), { action: 'delete' as const, message: r.message });
    return { action: 'delete' as const, deleted: id };
  },
};

// The alert pages' reads through the proxy's admin API (/admin/alerts/*, called with the master
// key), and team scope applied to them with the API's own rule (core/src/alerts/visibility.ts):
// a scoped person sees their teams' rules and events only.
import { error, type RequestEvent } from '@sveltejs/kit';
import type { Principal } from '@gatelog/core/roles';
import { eventVisible, keyTeams, type KeyTeams } from '@gatelog/core/alerts/visibility';
import { uiContext } from './context.server.ts';
import { adminBaseUrl, adminCall } from './admin-api.server.ts';

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

/**
 * An alerts API call. A change is made for the signed-in person, whose role and teams the API
 * checks and audits (acting-for); reads are the page's, filtered here with the same rule (every
 * rule is needed to judge each event).
 */
export const alertsApi = async (event: Pick<RequestEvent, 'url' | 'platform' | 'locals'>, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: object) => {
  const { masterKey, adminUrl } = await uiContext();
  return adminCall(adminBaseUrl(event, adminUrl), masterKey, method, path, body, undefined, method === 'GET' ? undefined : event.locals.principal);
};

/** Key teams when the person is team-scoped (an unscoped one sees every rule and event). */
export const keysFor = async (p: Principal | undefined): Promise<KeyTeams> => (p?.teams.length ? keyTeams((await uiContext()).store) : new Map());
/** A person nobody signed in as (an open gatelog) sees everything, as the pages' scope does. */
export const everyone: Pick<Principal, 'teams'> = { teams: [] };

/** Every rule the API knows, by id: the rule each event is judged by. */
export async function alertRules(event: Pick<RequestEvent, 'url' | 'platform' | 'locals'>): Promise<{ data: RuleView[]; channels: { name: string; kind: string; url: string }[]; interval_s: number }> {
  const rules = await alertsApi(event, 'GET', '/admin/alerts/rules');
  if (!rules.ok) error(rules.status === 403 ? 403 : 502, `Alert rules could not be read: ${rules.message}`);
  return rules.body as { data: RuleView[]; channels: { name: string; kind: string; url: string }[]; interval_s: number };
}

/** The events a person may see, newest first, at most `limit`. */
export async function visibleEvents(p: Principal | undefined, events: EventView[], rules: RuleView[], limit: number): Promise<EventView[]> {
  const keys = await keysFor(p);
  const byId = new Map(rules.map((r) => [r.rule.id, r.rule]));
  return events.filter((e) => eventVisible(p ?? everyone, e, byId.get(e.rule_id), keys)).slice(0, limit);
}


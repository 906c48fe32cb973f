// Alerts in ClickHouse (migration 0018): rules made in the UI (versioned rows), the history of
// transitions and delivery attempts, the current state per rule and subject, and the
// evaluation lease. Every value is a bound parameter; rows are zod-parsed.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './client.ts';
import { ChTime, Num } from './row-types.ts';
import { readQuery } from './read-query.ts';
import { AlertRule } from '../alerts/rule.ts';
import type { InstanceState } from '../alerts/state.ts';

const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const json = (rows: readonly object[]): Buffer => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

export interface StoredRule {
  rule: AlertRule;
  version: number;
  updated_at: string;
  updated_by: string;
}

const RuleRow = z.object({ id: z.string(), version: Num, spec: z.string(), enabled: z.coerce.boolean(), updated_at: ChTime, updated_by: z.string() });

/** The newest version of every UI-made rule that is not deleted (a row that no longer parses is skipped). */
export async function listUiRules(store: Store): Promise<StoredRule[]> {
  const rs = await readQuery(store, {
    query: `SELECT id, version, spec, enabled, updated_at, updated_by FROM ${store.database}.alert_rules FINAL WHERE NOT deleted ORDER BY id`,
  });
  const out: StoredRule[] = [];
  for (const r of z.array(RuleRow).parse(await rs.json())) {
    const parsed = AlertRule.safeParse({ ...(JSON.parse(r.spec) as object), id: r.id, enabled: r.enabled });
    if (parsed.success) out.push({ rule: parsed.data, version: r.version, updated_at: r.updated_at, updated_by: r.updated_by });
  }
  return out;
}

export async function uiRuleById(store: Store, id: string): Promise<StoredRule | undefined> {
  return (await listUiRules(store)).find((r) => r.rule.id === id);
}

/** A new version of a UI rule (or its deletion). */
export async function writeUiRule(store: Store, rule: AlertRule, o: { version: number; at: number; by: string; deleted?: boolean }): Promise<void> {
  const { id, enabled, ...spec } = rule;
  await store.insertRaw('alert_rules', json([{ id, version: o.version, name: rule.name ?? id, spec: JSON.stringify(spec), enabled, deleted: o.deleted ?? false, updated_at: chTime(o.at), updated_by: o.by }]));
}

export interface AlertEventInput {
  at: number;
  rule_id: string;
  rule_name: string;
  rule_kind: string;
  subject: string;
  kind: 'fired' | 'resolved' | 'delivery';
  incident_id: string;
  value: number;
  threshold: number;
  message: string;
  channel?: string;
  attempt?: number;
  http_status?: number;
  /** An error code (`timeout`, `ECONNREFUSED`, `http_500`), never a URL or a body. */
  delivery_error?: string;
  duration_ms?: number;
}

export async function insertAlertEvents(store: Store, rows: readonly AlertEventInput[]): Promise<void> {
  if (rows.length === 0) return;
  await store.insertRaw('alert_events', json(rows.map((r) => ({ event_id: randomUUID(), ...r, at: chTime(r.at) }))));
}

export const AlertEventRow = z.object({
  at: ChTime,
  rule_id: z.string(),
  rule_name: z.string(),
  rule_kind: z.string(),
  subject: z.string(),
  kind: z.string(),
  incident_id: z.string(),
  value: Num,
  threshold: Num,
  message: z.string(),
  channel: z.string(),
  attempt: Num,
  http_status: Num,
  delivery_error: z.string(),
  duration_ms: Num,
});
export type AlertEventRow = z.infer<typeof AlertEventRow>;

/** Newest first; `rule` narrows to one rule, `kind` to transitions or deliveries. */
export async function listAlertEvents(store: Store, q: { limit?: number; rule?: string | undefined; kind?: string | undefined; before?: number | undefined } = {}): Promise<AlertEventRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT at, rule_id, rule_name, rule_kind, subject, kind, incident_id, value, threshold, message, channel, attempt, http_status, delivery_error, duration_ms
            FROM ${store.database}.alert_events
            WHERE ({rule:String} = '' OR rule_id = {rule:String}) AND ({kind:String} = '' OR kind = {kind:String})
              AND at < {before:DateTime64(3, 'UTC')}
            ORDER BY at DESC, kind DESC LIMIT {limit:UInt32}`,
    query_params: { rule: q.rule ?? '', kind: q.kind ?? '', before: chTime(q.before ?? Date.now() + 86_400_000), limit: Math.min(Math.max(q.limit ?? 200, 1), 1000) },
  });
  return z.array(AlertEventRow).parse(await rs.json());
}

const StateRow = z.object({ rule_id: z.string(), subject: z.string(), last: z.string(), incident_id: z.string(), fired_at: Num });

/** Current state per rule and subject: the newest transition of each. */
export async function loadAlertStates(store: Store): Promise<Map<string, Map<string, InstanceState>>> {
  const rs = await readQuery(store, {
    query: `SELECT rule_id, subject, argMax(kind, at) AS last, argMax(incident_id, at) AS incident_id,
                   toUnixTimestamp64Milli(maxIf(at, kind = 'fired')) AS fired_at
            FROM ${store.database}.alert_events WHERE kind IN ('fired', 'resolved')
            GROUP BY rule_id, subject`,
  });
  const out = new Map<string, Map<string, InstanceState>>();
  for (const r of z.array(StateRow).parse(await rs.json())) {
    let m = out.get(r.rule_id);
    if (!m) out.set(r.rule_id, (m = new Map()));
    m.set(r.subject, { phase: r.last === 'fired' ? 'firing' : 'ok', incidentId: r.incident_id, firedAt: r.fired_at > 0 ? r.fired_at : null });
  }
  return out;
}

/**
 * Claim evaluation slot `slot` for `holder`; true when this holder's claim is the first one
 * ClickHouse recorded (its own clock, then holder as the tie-break), so of several proxies
 * ticking in the same slot exactly one evaluates.
 */
export async function claimAlertSlot(store: Store, slot: number, holder: string): Promise<boolean> {
  await store.client.command({
    query: `INSERT INTO ${store.database}.alert_lease (slot, holder) VALUES ({slot:UInt64}, {holder:String})`,
    query_params: { slot, holder },
  });
  const rs = await store.client.query({
    query: `SELECT holder FROM ${store.database}.alert_lease WHERE slot = {slot:UInt64} ORDER BY claimed_at, holder LIMIT 1`,
    query_params: { slot },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ holder: string }>();
  return rows[0]?.holder === holder;
}

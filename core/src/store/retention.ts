// Retention: how long bodies, call rows and rollups are kept (`retention` in gatelog.yaml),
// enforced by ClickHouse TTLs, and legal holds that suspend it.
//
// Why TTLs read a `legal_hold` column instead of the holds table: a TTL expression is evaluated
// per row when parts are written and merged, and may not read other tables, so it cannot see a
// hold placed later. The column is kept by `markHolds` (a mutation, run when a hold changes and
// by every sweep), and the TTLs say `DELETE WHERE NOT legal_hold` (rows) and "never" for a held
// row's bodies (column TTL). A mutation rewrites the parts it touches, so ClickHouse recomputes
// their TTLs at once: placing a hold protects rows before any TTL merge can remove them.
//
// TTLs are not in the migrations: they follow the configuration, and are applied at start to
// existing tables when the configured value differs from the one recorded in retention_applied.
import { z } from 'zod';
import { localChanges, type Store } from './client.ts';
import { keepHeldBlocks } from './block-retention.ts';

/** `30d`, `12h` or `forever`. */
export const Duration = z.union([z.literal('forever'), z.string().regex(/^[1-9][0-9]{0,5}[dh]$/, 'a duration such as 30d or 12h, or forever')]);

/** A team's own periods (each defaults to the global one). */
export const TeamRetention = z.object({ bodies: Duration.optional(), calls: Duration.optional() }).strict();

export const RetentionConfig = z.object({
  /** Request and response bodies (and error messages). */
  bodies: Duration.default('30d'),
  /** Call rows (metadata: tokens, cost, latency, who, when). */
  calls: Duration.default('400d'),
  /**
   * Periods of their own for some teams' calls (a team whose contract allows less, or asks for
   * more): `teams: { clinical: { bodies: 7d, calls: 90d } }`. A call's team is its key's.
   */
  teams: z.record(z.string().min(1).max(128), TeamRetention).default({}),
  /** Per-minute and hourly rollups (dashboards). */
  rollups: Duration.default('forever'),
  /**
   * The audit trail (who viewed, searched, exported or changed what: emails, addresses, search
   * texts). Older rows are deleted on the sweep and the deletion is itself recorded, so
   * `gatelog audit verify` still passes (audit-expiry.ts). Rows an audit sink has not yet
   * accepted are kept until it has.
   */
  audit: Duration.default('forever'),
  /** How often the sweep re-marks holds and prunes files under the data dir. */
  sweep_ms: z.number().int().min(1000).default(3_600_000),
}).strict();
export type RetentionConfig = z.infer<typeof RetentionConfig>;

/** The kinds of hold that keep calls. */
export const CALL_HOLD_KINDS = ['key', 'team', 'user', 'trace'] as const;
export type CallHoldKind = (typeof CALL_HOLD_KINDS)[number];
/** The kind of hold that keeps the audit trail (audit-holds.ts): never applied to calls. */
export const AUDIT_HOLD = 'audit';
export const HOLD_KINDS = [...CALL_HOLD_KINDS, AUDIT_HOLD] as const;
export type HoldKind = (typeof HOLD_KINDS)[number];
/** The llm_calls column each call hold kind matches. */
export const HOLD_COLUMN: Record<CallHoldKind, string> = { key: 'key_id', team: 'team', user: 'user', trace: 'trace_id' };

/** Milliseconds of a duration, or null for forever. */
export function durationMs(d: string): number | null {
  if (d === 'forever') return null;
  const n = Number(d.slice(0, -1));
  return n * (d.endsWith('h') ? 3_600_000 : 86_400_000);
}

const interval = (d: string): string => `toInterval${d.endsWith('h') ? 'Hour' : 'Day'}(${Number(d.slice(0, -1))})`;

type Period = 'bodies' | 'calls';

/** The period that applies to a team's calls ('' = calls without a team: the global one). */
export function periodFor(r: Pick<RetentionConfig, Period | 'teams'>, field: Period, team: string): string {
  return (team !== '' && Object.hasOwn(r.teams, team) ? r.teams[team]?.[field] : undefined) ?? r[field];
}

/** The teams with a period of their own for `field` (one that differs from the global one), sorted. */
function ownPeriods(r: Pick<RetentionConfig, Period | 'teams'>, field: Period): [string, string][] {
  return Object.entries(r.teams)
    .flatMap(([team, t]): [string, string][] => (t[field] !== undefined && t[field] !== r[field] ? [[team, t[field]]] : []))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Teams whose request bodies are stored whole, never split into shared blocks (blocks.ts): a
 * block outlives the calls that use it by the global body period, so the calls of a team with
 * a period of its own keep their text in their own row, where their own period removes it.
 */
export function wholeBodyTeams(r: Pick<RetentionConfig, Period | 'teams'>): string[] {
  return ownPeriods(r, 'bodies').map(([team]) => team);
}

/** What is recorded in retention_applied for a target: the global period, then each team's own. */
function periodText(r: Pick<RetentionConfig, Period | 'teams'>, field: Period): string {
  return [r[field], ...ownPeriods(r, field).map(([team, d]) => `${JSON.stringify(team)}=${d}`)].join(' ');
}

/** SQL: when a call row's `field` expires, by its team's period (NEVER for forever), counted from `from`. */
function expirySql(r: Pick<RetentionConfig, Period | 'teams'>, field: Period, from = 'started_at', floor?: (d: string) => string): string {
  const at = (d: string): string => (d === 'forever' ? NEVER : `toDateTime(${from}) + ${interval(floor ? floor(d) : d)}`);
  const own = ownPeriods(r, field);
  if (own.length === 0) return at(r[field]);
  return `multiIf(${own.map(([team, d]) => `team = ${sqlText(team)}, ${at(d)}`).join(', ')}, ${at(r[field])})`;
}

/** A string as a SQL literal that no input can break out of (hex, decoded by ClickHouse). */
export function sqlText(s: string): string {
  return `unhex('${Buffer.from(s).toString('hex')}')`;
}

const NEVER = "toDateTime('2106-01-01 00:00:00', 'UTC')";
const BATCH_OBJECTS_MIN = '2d';
/** Days a file's ownership row outlives its period, for the upstream deletion to find it (see below). */
export const FILE_ROWS_MARGIN_DAYS = 7;
const atLeastBatchMin = (d: string): string => ((durationMs(d) ?? Infinity) < durationMs(BATCH_OBJECTS_MIN)! ? BATCH_OBJECTS_MIN : d);
const BODY_COLUMNS = [['request_body', 'String CODEC(ZSTD(3))'], ['response_body', 'String CODEC(ZSTD(3))'], ['error_message', 'String']] as const;

/** The shorter of two periods (`forever` is longer than any; the first on a tie). */
export function shorterPeriod(a: string, b: string): string {
  const ma = durationMs(a);
  const mb = durationMs(b);
  if (ma === null) return b;
  if (mb === null) return a;
  return mb < ma ? b : a;
}

/** The longer of two periods (`forever` when either is). */
export const longerPeriod = (a: string, b: string): string => (shorterPeriod(a, b) === a ? b : a);

/** Each retention target and the DDL that sets its TTL (or removes it). */
export function ttlStatements(db: string, r: RetentionConfig): { target: string; ttl: string; sql: string[] }[] {
  const out: { target: string; ttl: string; sql: string[] }[] = [];
  // Bodies: the team's period where it has one (a multiIf on team), else the global one.
  const bodies = periodText(r, 'bodies');
  const bodiesTtl = `TTL if(legal_hold, ${NEVER}, ${expirySql(r, 'bodies')})`;
  out.push({
    target: 'llm_calls.bodies',
    ttl: bodies,
    sql: BODY_COLUMNS.map(([c, type]) => bodies === 'forever'
      ? `ALTER TABLE ${db}.llm_calls MODIFY COLUMN ${c} REMOVE TTL`
      : `ALTER TABLE ${db}.llm_calls MODIFY COLUMN ${c} ${type} ${bodiesTtl}`),
  });
  // Columns that expire with the bodies (a column TTL resets a column to its default), each its
  // own target, so a data dir whose body TTL was applied before the column existed gets it too:
  // per-attempt bodies (migration 0013; attempt_io back to []) and body parts (migration 0014).
  // A block expires the global body period after the last call that used it (block-retention.ts
  // keeps held calls' blocks; a team with a body period of its own never has its bodies split).
  for (const column of ['attempt_io', 'request_parts']) {
    out.push({
      target: `llm_calls.${column}`,
      ttl: bodies,
      sql: [bodies === 'forever'
        ? `ALTER TABLE ${db}.llm_calls MODIFY COLUMN ${column} REMOVE TTL`
        : `ALTER TABLE ${db}.llm_calls MODIFY COLUMN ${column} ${bodiesTtl}`],
    });
  }
  out.push({
    target: 'llm_blocks.rows',
    ttl: r.bodies,
    sql: [r.bodies === 'forever' ? `ALTER TABLE ${db}.llm_blocks REMOVE TTL` : `ALTER TABLE ${db}.llm_blocks MODIFY TTL last_seen + ${interval(r.bodies)}`],
  });
  const calls = periodText(r, 'calls');
  out.push({
    target: 'llm_calls.rows',
    ttl: calls,
    sql: [calls === 'forever' ? `ALTER TABLE ${db}.llm_calls REMOVE TTL` : `ALTER TABLE ${db}.llm_calls MODIFY TTL ${expirySql(r, 'calls')} DELETE WHERE NOT legal_hold`],
  });
  // The Files and Batches API's objects (who owns which file and batch, their last state) are
  // call metadata: kept as long as the calls of their team, counted from when last seen, and at
  // least two days, so a batch still running (OpenAI gives one up to 24 hours) keeps its owner.
  // A batch's "recorded" marker outlives its batch row by a day: were it gone first, the poller
  // would record the batch's results again after the calls themselves had expired.
  // A file's row outlives the period by FILE_ROWS_MARGIN_DAYS: the proxy deletes the file at its
  // provider once the period has passed (proxy/src/batches/purge.ts), and must still find the row
  // then — a row never seen again would otherwise expire the moment the file is due, before a
  // sweep (hourly) could see it, and the prompts would stay upstream with nothing pointing to
  // them. The margin covers sweeps missed while the proxies are down; a deletion the provider
  // refuses writes the row again, so a file gatelog could not delete is never forgotten. Every
  // version of a file's row gets the margin (deleted ones too), so an older version never
  // outlives a newer one and shows a deleted file again.
  out.push({
    target: 'batch_objects.rows',
    ttl: `${calls} min ${BATCH_OBJECTS_MIN} marker +1d files +${FILE_ROWS_MARGIN_DAYS}d`,
    sql: [calls === 'forever'
      ? `ALTER TABLE ${db}.batch_objects REMOVE TTL`
      : `ALTER TABLE ${db}.batch_objects MODIFY TTL ${expirySql(r, 'calls', 'updated_at', atLeastBatchMin)} + toIntervalDay(kind = 'batch_recorded') + toIntervalDay(${FILE_ROWS_MARGIN_DAYS} * (kind = 'file'))`],
  });
  // An erasure request (its selector names a user, key or trace) is needed for as long as a call
  // it covers can still reach ingest and be stored: such a call started before the request, so
  // once the longest calls period (global or a team's) has passed since, every covered row is past
  // its own TTL. A day more covers the TTL merge that removes a late, already-expired row.
  const longest = Object.values(r.teams).reduce((l, t) => (t.calls === undefined ? l : longerPeriod(l, t.calls)), r.calls);
  out.push({
    target: 'erasure_requests.rows',
    ttl: longest === 'forever' ? 'forever' : `${longest} +1d`,
    sql: [longest === 'forever'
      ? `ALTER TABLE ${db}.erasure_requests REMOVE TTL`
      : `ALTER TABLE ${db}.erasure_requests MODIFY TTL toDateTime(requested_at) + ${interval(longest)} + toIntervalDay(1)`],
  });
  for (const [table, col] of [['llm_calls_1m', 'minute'], ['llm_calls_1h', 'hour'], ['llm_calls_latency_1h', 'hour']] as const) {
    out.push({
      target: `${table}.rows`,
      ttl: r.rollups,
      sql: [r.rollups === 'forever' ? `ALTER TABLE ${db}.${table} REMOVE TTL` : `ALTER TABLE ${db}.${table} MODIFY TTL ${col} + ${interval(r.rollups)}`],
    });
  }
  return out;
}

/**
 * Apply the configured TTLs where they differ from what was applied last; returns the targets
 * changed. Existing parts are not rewritten now (materialize_ttl_after_modify = 0): TTL merges
 * apply the new values in the background, and `enforceRetentionNow` does it at once.
 */
export async function applyRetention(store: Store, r: RetentionConfig): Promise<string[]> {
  const db = store.database;
  const rs = await store.client.query({ query: `SELECT target, ttl FROM ${db}.retention_applied FINAL`, format: 'JSONEachRow' });
  const applied = new Map((await rs.json<{ target: string; ttl: string }>()).map((x) => [x.target, x.ttl]));
  const changed: string[] = [];
  for (const t of ttlStatements(db, r)) {
    // Nothing recorded and nothing wanted: the table has no TTL yet, so nothing to remove.
    if (applied.get(t.target) === t.ttl || (!applied.has(t.target) && t.ttl === 'forever')) continue;
    for (const sql of t.sql) await store.client.command({ query: sql, clickhouse_settings: { materialize_ttl_after_modify: 0 } });
    await store.client.insert({ table: `${db}.retention_applied`, values: [{ target: t.target, ttl: t.ttl, applied_at: Date.now() }], format: 'JSONEachRow' });
    changed.push(t.target);
  }
  return changed;
}

/** Remove what is past its TTL now (a mutation over every part: for tests and operators, not every sweep). */
export async function enforceRetentionNow(store: Store): Promise<void> {
  const rs = await store.client.query({
    query: `SELECT name FROM system.tables WHERE database = {db:String} AND name IN ('llm_calls', 'llm_blocks', 'llm_calls_1m', 'llm_calls_1h', 'llm_calls_latency_1h', 'batch_objects', 'erasure_requests') AND position(create_table_query, ' TTL ') > 0`,
    query_params: { db: store.database },
    format: 'JSONEachRow',
  });
  for (const { name } of await rs.json<{ name: string }>()) {
    await store.client.command({ query: `ALTER TABLE ${store.database}.${name} MATERIALIZE TTL`, clickhouse_settings: { mutations_sync: '2' } });
  }
}

interface HoldFields {
  id: string;
  version: number;
  value: string;
  reason: string;
  active: boolean;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

/** A hold of calls: what heldExpr, isHeld, markHolds and every erasure path apply. */
export interface CallHold extends HoldFields {
  kind: CallHoldKind;
  /**
   * The teams whose calls it covers (a team-scoped caller's hold of a key, user or trace is
   * limited to its teams); absent or empty = every team, as for every hold placed before.
   */
  teams?: string[];
}

/**
 * A hold of the audit trail: `value` is `*` (all of it) or a person's email, lower-cased. The
 * trail is not divided by team, so it has no teams (the column reads back empty).
 */
export interface AuditHold extends HoldFields {
  kind: typeof AUDIT_HOLD;
  teams?: readonly [];
}

/** A hold of either kind, as the legal_holds table and the admin API know it. */
export type LegalHold = CallHold | AuditHold;

export const isCallHold = (h: LegalHold): h is CallHold => h.kind !== AUDIT_HOLD;
export const isAuditHold = (h: LegalHold): h is AuditHold => h.kind === AUDIT_HOLD;

/** Every hold of every kind, active and lifted (the admin API's list). */
export async function listHolds(store: Store, opts: { activeOnly?: boolean } = {}): Promise<LegalHold[]> {
  const rs = await store.client.query({
    query: `SELECT * FROM ${store.database}.legal_holds FINAL ${opts.activeOnly ? 'WHERE active' : ''} ORDER BY created_at`,
    format: 'JSONEachRow',
  });
  return (await rs.json<LegalHold>()).map((h) => ({ ...h, version: Number(h.version) }));
}

/** The active holds of calls: what every path that keeps or erases calls applies. */
export async function activeCallHolds(store: Store): Promise<CallHold[]> {
  return (await listHolds(store, { activeOnly: true })).filter(isCallHold);
}

/** The active holds of the audit trail. */
export async function activeAuditHolds(store: Store): Promise<AuditHold[]> {
  return (await listHolds(store, { activeOnly: true })).filter(isAuditHold);
}

const writtenHere = localChanges();

/** How many hold changes this process has written through `store`'s client (see LocalChanges). */
export function holdsWrittenHere(store: Pick<Store, 'client'>): number {
  return writtenHere.count(store);
}

export async function writeHold(store: Store, h: LegalHold): Promise<void> {
  const ch = (iso: string): string => iso.replace('T', ' ').replace('Z', '');
  await store.client.insert({
    table: `${store.database}.legal_holds`,
    // `teams` only when it narrows: a hold of every team is written as before migration 0022.
    values: [{ ...h, teams: h.teams?.length ? h.teams : undefined, created_at: ch(h.created_at), updated_at: ch(h.updated_at) }],
    format: 'JSONEachRow',
  });
  writtenHere.add(store);
}

type HoldCover = Pick<CallHold, 'kind' | 'value' | 'teams'>;

/** An event's team as llm_calls stores it (no team: ''). */
export function eventTeam(e: Record<string, unknown>): string {
  return typeof e['team'] === 'string' ? e['team'] : '';
}

/**
 * The teams whose calls a hold covers, null for every team: a team hold's own team, else the
 * teams it is limited to. Who may see and lift a hold follows from it (routes/erase.ts).
 */
export function holdTeams(h: HoldCover): string[] | null {
  if (h.kind === 'team') return [h.value];
  return h.teams?.length ? h.teams : null;
}

/** SQL: whether a call row is covered by one of `holds` (false when there are none). */
export function heldExpr(holds: readonly HoldCover[]): string {
  const parts = CALL_HOLD_KINDS.map((k) => {
    const vals = holds.filter((h) => h.kind === k && !h.teams?.length).map((h) => sqlText(h.value));
    return vals.length ? `${HOLD_COLUMN[k]} IN (${vals.join(', ')})` : '';
  }).filter(Boolean);
  for (const h of holds) {
    if (h.teams?.length) parts.push(`(${HOLD_COLUMN[h.kind]} = ${sqlText(h.value)} AND team IN (${h.teams.map(sqlText).join(', ')}))`);
  }
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}

/** Whether an event (as JSON) is covered by one of `holds`: the files' side of heldExpr. */
export function isHeld(e: Record<string, unknown>, holds: readonly HoldCover[]): boolean {
  return holds.some((h) => e[HOLD_COLUMN[h.kind]] === h.value && (!h.teams?.length || h.teams.includes(eventTeam(e))));
}

/** Bring llm_calls.legal_hold in line with the active holds (one mutation; waits for it). */
export async function markHolds(store: Store): Promise<void> {
  const held = heldExpr(await activeCallHolds(store));
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.llm_calls WHERE legal_hold != ${held}`, format: 'JSONEachRow' });
  const [row] = await rs.json<{ n: string | number }>();
  if (Number(row?.n ?? 0) > 0) {
    await store.client.command({
      query: `ALTER TABLE ${store.database}.llm_calls UPDATE legal_hold = ${held} WHERE legal_hold != ${held}`,
      clickhouse_settings: { mutations_sync: '2' },
    });
  }
  // TTLs cannot see holds: a held call's body blocks are written again with a fresh last_seen.
  await keepHeldBlocks(store);
}

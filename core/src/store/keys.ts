// Named, parameterized queries for virtual keys, their spend, and the admin audit log.
// Keys are versioned rows (ReplacingMergeTree(version)): every create/edit/revoke inserts a
// new version and readers take the latest with FINAL. No secret ever reaches these tables:
// only `key_hash` (SHA-256 hex) and a short `key_prefix` for display.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';

/** ClickHouse prints DateTime64 as `YYYY-MM-DD hh:mm:ss.sss` (UTC here); expose ISO. */
import { ChTime, Num } from './row-types.ts';
const NullableNum = z.union([z.null(), Num]);

export const BUDGET_PERIODS = ['daily', 'weekly', 'monthly', 'none'] as const;
export const BudgetPeriod = z.enum(BUDGET_PERIODS);
export type BudgetPeriod = z.infer<typeof BudgetPeriod>;

/** One version of a virtual key, as stored and as held in memory by proxies. */
export const KeyRecord = z.object({
  id: z.string().min(1),
  version: Num,
  key_hash: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest'),
  key_prefix: z.string(),
  /**
   * After a rotation with a grace period, the replaced secret's hash and prefix, accepted until
   * `previous_valid_until` (migration 0035). Empty / null otherwise.
   */
  previous_key_hash: z.union([z.literal(''), z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest')]).default(''),
  previous_key_prefix: z.string().default(''),
  previous_valid_until: ChTime.nullable().default(null),
  /** When the secret was last replaced (null: never). */
  rotated_at: ChTime.nullable().default(null),
  /** After a rotation, the first secret's hash: what names the end-user counters (empty: `key_hash`). */
  counter_salt: z.string().default(''),
  name: z.string(),
  team: z.string(),
  owner: z.string(),
  /** Allowed model aliases; empty = every alias. */
  models: z.array(z.string()),
  budget_usd: NullableNum,
  budget_period: BudgetPeriod,
  rpm: NullableNum,
  tpm: NullableNum,
  max_parallel: NullableNum,
  /** Limits for each end user (the call's `user`) of this key separately (migration 0026). */
  user_rpm: NullableNum.default(null),
  user_tpm: NullableNum.default(null),
  user_budget_usd: NullableNum.default(null),
  user_budget_period: BudgetPeriod.default('none'),
  /** Calls that name no end user are refused (400 user_required). */
  require_user: z.boolean().default(false),
  expires_at: ChTime.nullable(),
  metadata: z.record(z.string(), z.string()),
  revoked: z.boolean(),
  created_at: ChTime,
  updated_at: ChTime,
  /** Who wrote this version (admin identity), for the audit trail. */
  updated_by: z.string(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;
/** A key version as written: the end-user fields may be left out (no per-user limits). */
export type KeyRecordInput = z.input<typeof KeyRecord>;

const KEY_COLUMNS =
  'id, version, key_hash, key_prefix, previous_key_hash, previous_key_prefix, previous_valid_until, rotated_at, counter_salt, name, team, owner, models, budget_usd, budget_period, rpm, tpm, max_parallel, user_rpm, user_tpm, user_budget_usd, user_budget_period, require_user, expires_at, metadata, revoked, created_at, updated_at, updated_by';

/** Append a key version (the caller bumps `version`). */
export async function insertKeyVersion(store: Store, key: KeyRecordInput): Promise<void> {
  const row = KeyRecord.parse(key);
  await store.insertRaw('keys', Buffer.from(`${JSON.stringify(row)}\n`));
}

/** The latest version of every key (revoked ones included unless asked otherwise). */
export async function listKeys(store: Store, opts: { includeRevoked?: boolean } = {}): Promise<KeyRecord[]> {
  const rs = await readQuery(store, {
    query: `SELECT ${KEY_COLUMNS} FROM ${store.database}.keys FINAL
            ${opts.includeRevoked === false ? 'WHERE NOT revoked' : ''}
            ORDER BY created_at, id`,
  }, { kind: 'keys' });
  return z.array(KeyRecord).parse(await rs.json());
}

export async function keyById(store: Store, id: string): Promise<KeyRecord | null> {
  const rs = await readQuery(store, {
    query: `SELECT ${KEY_COLUMNS} FROM ${store.database}.keys FINAL WHERE id = {id:String} LIMIT 1`,
    query_params: { id },
  }, { kind: 'keys' });
  const rows = await rs.json();
  return rows.length ? KeyRecord.parse(rows[0]) : null;
}

/** Lookup by SHA-256 hex of the presented secret. Anything not a hex digest is no match. */
export async function keyByHash(store: Store, hash: string): Promise<KeyRecord | null> {
  if (!/^[0-9a-f]{64}$/.test(hash)) return null;
  const rs = await readQuery(store, {
    query: `SELECT ${KEY_COLUMNS} FROM ${store.database}.keys FINAL WHERE key_hash = {h:FixedString(64)} LIMIT 1`,
    query_params: { h: hash },
  }, { kind: 'keys' });
  const rows = await rs.json();
  return rows.length ? KeyRecord.parse(rows[0]) : null;
}

export const ScopeSpend = z.object({ id: z.string(), spent_usd: Num });
export type ScopeSpend = z.infer<typeof ScopeSpend>;

/**
 * Spend per key id (or team) since `since` (a period start), from recorded calls. Refused
 * calls cost nothing; a null (unknown) cost counts as 0. `ids` narrows the result.
 */
export async function spendByScope(
  store: Store,
  q: { scope: 'key' | 'team'; since: Date; ids?: readonly string[] | undefined },
): Promise<ScopeSpend[]> {
  const col = q.scope === 'key' ? 'key_id' : 'team';
  const params: Record<string, unknown> = { since: toChTime(q.since) };
  let narrow = '';
  if (q.ids) {
    narrow = `AND ${col} IN {ids:Array(String)}`;
    params['ids'] = [...q.ids];
  }
  const rs = await store.client.query({
    query: `SELECT ${col} AS id, sum(ifNull(cost_usd, 0)) AS spent_usd
            FROM ${store.database}.llm_calls FINAL
            WHERE started_at >= {since:DateTime64(3, 'UTC')} AND outcome != 'refused' AND ${col} != '' ${narrow}
            GROUP BY id ORDER BY id`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return z.array(ScopeSpend).parse(await rs.json());
}

// The audit trail lives in audit.ts (append, hash chain) and audit-queries.ts (reads); these
// names stay importable from here for existing callers.
export { AuditEntry, insertAudit, type AuditInput } from './audit.ts';
export { listAudit } from './audit-queries.ts';

function toChTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

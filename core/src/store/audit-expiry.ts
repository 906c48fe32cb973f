// Retention of the audit trail (`retention.audit`): rows older than the period are deleted, and
// the trail stays verifiable. The trail holds people's emails, addresses and search texts, so an
// organisation sets how long it keeps them, as it does for calls.
//
// Why not a ClickHouse TTL: the trail is a hash chain per writer (audit.ts) and `gatelog audit
// verify` requires every chain to start at seq 1 with nothing missing; a TTL would delete rows
// silently and make an expiry indistinguishable from someone deleting rows. Instead one process
// at a time (the `audit-expire` job lease; the embedded launcher, or one ingest worker) runs
// `expireAudit` on every retention sweep:
//   1. per chain, the rows to expire: from the first kept row's predecessor down — the rows
//      before the first row at or after the cutoff (so a row is never deleted while an older
//      one of its chain is kept), and never past what a configured audit sink has accepted
//      (a sink that is down keeps its rows here until it has them);
//   2. those rows are verified (hashes, links, no seq missing) from the last cut on: rows
//      someone altered are not expired — they are kept for `audit verify` to name, and the
//      refusal is logged and recorded;
//   3. an `audit.expire` row is appended (the anchor) naming, per chain, the last seq expired
//      and that row's hash — carried over from the previous anchor for every chain that still
//      has rows or that a kept chain-open row witnessed, so the newest anchor always covers the
//      trail as it is;
//   4. the rows are deleted (a mutation, waited for).
// The verifier (audit-verify.ts) lets rows at or below an anchor's cut be missing and checks
// that the first kept row follows the cut's hash. Rows written before chains existed (no
// chain) are deleted by time alone. The anchor is appended before the deletion: a deletion that
// fails leaves rows the next sweep deletes again, never a cut without an anchor.
//
// Legal holds of the trail (audit-holds.ts) are read once per run: a hold of the whole trail
// suspends the expiry (nothing is expired, and that is logged); a hold of a person stops each
// chain's cut below that person's first row in it, so their rows and every later row of the
// chain stay (a chain is only ever cut as a prefix), and keeps their unchained rows.
// A hold placed after a cut whose deletion failed keeps the held rows among its leftovers too:
// the chain then keeps them below its cut (the verifier accepts rows at or below a cut), and
// they go with the first sweep after the hold is lifted.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store } from './client.ts';
import { AUDIT_COLUMNS, AuditRow, CHAIN_OPEN, GENESIS_HASH, appendAudit, auditHash } from './audit.ts';
import { chainRows, unchainedCount } from './audit-queries.ts';
import { auditKeep } from './audit-holds.ts';
import { sinkCursors } from './audit-stream-queries.ts';
import { claimJob, TURN_SETTLE_MS } from './job-lease.ts';
import { durationMs } from './retention.ts';
import { Num } from './row-types.ts';
import { chTime } from './call-filter.ts';

export const AUDIT_EXPIRE = 'audit.expire';
/** The actor of the trail's own rows (chain opens, expiries). */
const SYSTEM_ACTOR = 'gatelog';

const AuditCutRow = z.object({ chain_id: z.string(), through_seq: z.number().int().nonnegative(), through_hash: z.string() });
/** The last expired row of a chain: its seq and hash. */
export type AuditCut = z.infer<typeof AuditCutRow>;

const AnchorDetails = z.object({ before: z.string(), cuts: z.array(AuditCutRow) });
/** What an audit.expire row records: the cutoff, and every chain's cut as the trail stands after it. */
export type AuditAnchor = z.infer<typeof AnchorDetails>;

/** The anchor an audit.expire row carries (undefined for any other row, or one gatelog did not write). */
export function anchorOf(r: Pick<AuditRow, 'action' | 'actor' | 'details'>): AuditAnchor | undefined {
  if (r.action !== AUDIT_EXPIRE || r.actor !== SYSTEM_ACTOR) return undefined;
  try {
    const d = AnchorDetails.safeParse(JSON.parse(r.details));
    return d.success ? d.data : undefined;
  } catch {
    return undefined;
  }
}

/** The newest anchor in the trail, if its row still hashes right (undefined: none yet). */
export async function latestAnchor(store: Store): Promise<{ row: AuditRow; anchor: AuditAnchor } | undefined> {
  const rs = await store.client.query({
    query: `SELECT ${AUDIT_COLUMNS} FROM ${store.database}.admin_audit
            WHERE action = {action:String} AND actor = {actor:String} ORDER BY at DESC, seq DESC LIMIT 1`,
    query_params: { action: AUDIT_EXPIRE, actor: SYSTEM_ACTOR },
    format: 'JSONEachRow',
  });
  const row = z.array(AuditRow).parse(await rs.json())[0];
  if (!row) return undefined;
  if (auditHash(row) !== row.row_hash) throw new AuditExpiryError(`the newest audit.expire row (${row.id}) was altered; nothing is expired until \`gatelog audit verify\` passes`);
  const anchor = anchorOf(row);
  if (!anchor) throw new AuditExpiryError(`the newest audit.expire row (${row.id}) cannot be read`);
  return { row, anchor };
}

export class AuditExpiryError extends Error {
  readonly code = 'GATELOG_ERR_AUDIT_EXPIRY';
}

/** A chain whose expiring rows did not verify: kept whole. */
export interface AuditRefusal {
  chain_id: string;
  seq: number;
  reason: string;
}

export interface AuditExpiry {
  /** Rows deleted (chained and unchained). */
  rows: number;
  /** Chains cut by this run. */
  chains: number;
  refused: AuditRefusal[];
  /** The anchor row written (none when there was nothing to expire). */
  anchor?: AuditRow | undefined;
  /** The legal hold of the whole trail that suspended this run (nothing was expired). */
  suspended?: string | undefined;
}

export interface ExpireOptions {
  /** `retention.audit`: a duration such as 400d, or forever (nothing expires). */
  period: string;
  /** Configured audit sinks: no row expires before each has accepted it. */
  sinks?: readonly string[] | undefined;
  now?: number | undefined;
  logger?: Pick<Logger, 'info' | 'error'> | undefined;
}

const ChainPlan = z.object({ chain_id: z.string(), head: Num, kept: Num, keep_from: Num, held_from: Num, free_from: Num });

/** Rows older than the period, deleted as the top of this file describes. */
export async function expireAudit(store: Store, o: ExpireOptions): Promise<AuditExpiry> {
  const ms = durationMs(o.period);
  const none: AuditExpiry = { rows: 0, chains: 0, refused: [] };
  if (ms === null) return none;
  const keep = await auditKeep(store);
  if (keep.trail) {
    o.logger?.info({ hold: keep.trail.id }, 'audit retention: a legal hold of the whole audit trail suspends its expiry; nothing is expired until it is lifted');
    return { ...none, suspended: keep.trail.id };
  }
  const cutoff = new Date((o.now ?? Date.now()) - ms).toISOString();
  const db = store.database;
  const prev = await latestAnchor(store);
  const done = new Map((prev?.anchor.cuts ?? []).map((c) => [c.chain_id, c]));

  const rs = await store.client.query({
    query: `SELECT chain_id, max(seq) AS head, countIf(at >= {cutoff:DateTime64(3, 'UTC')}) AS kept,
                   minIf(seq, at >= {cutoff:DateTime64(3, 'UTC')}) AS keep_from, minIf(seq, ${keep.sql}) AS held_from,
                   minIf(seq, NOT ${keep.sql}) AS free_from
            FROM ${db}.admin_audit WHERE chain_id != '' GROUP BY chain_id`,
    query_params: { cutoff: chTime(cutoff), ...keep.params },
    format: 'JSONEachRow',
  });
  const plan = z.array(ChainPlan).parse(await rs.json());
  const sinkHeads = await Promise.all((o.sinks ?? []).map((s) => sinkCursors(store, s)));
  // Per chain: expire (after, through] — after = the previous cut, through = this run's.
  const todo: { chain: string; after: number; through: number }[] = [];
  let leftovers = false;
  for (const p of plan) {
    let through = p.kept > 0 ? p.keep_from - 1 : p.head;
    // held_from 0: no held row (seqs start at 1).
    if (p.held_from > 0) through = Math.min(through, p.held_from - 1);
    for (const heads of sinkHeads) through = Math.min(through, heads.get(p.chain_id) ?? 0);
    const after = done.get(p.chain_id)?.through_seq ?? 0;
    if (through > after) todo.push({ chain: p.chain_id, after, through });
    // Rows an earlier run cut but could not delete, unless a hold placed since keeps them
    // (free_from 0: every row of the chain is held).
    else if (p.free_from > 0 && p.free_from <= after) leftovers = true;
  }
  const unchained = await unchainedCount(store, undefined, cutoff, keep);
  if (todo.length === 0 && !leftovers && unchained === 0) return none;

  // Verify what is about to go, from each chain's previous cut on.
  const refused = new Map<string, AuditRefusal>();
  const cuts = new Map<string, AuditCut>();
  const walk = new Map(todo.map((t) => [t.chain, { seq: t.after, hash: done.get(t.chain)?.through_hash ?? GENESIS_HASH }]));
  const refuse = (chain: string, seq: number, reason: string): void => {
    if (!refused.has(chain)) refused.set(chain, { chain_id: chain, seq, reason });
  };
  for await (const page of chainRows(store, { range: { chains: todo.map((t) => t.chain), after: todo.map((t) => t.after), through: todo.map((t) => t.through) } })) {
    for (const r of page) {
      const w = walk.get(r.chain_id)!;
      if (refused.has(r.chain_id)) continue;
      if (r.seq !== w.seq + 1) refuse(r.chain_id, w.seq + 1, r.seq === w.seq ? 'a seq appears twice' : `rows seq ${w.seq + 1}..${r.seq - 1} are missing`);
      else if (auditHash(r) !== r.row_hash) refuse(r.chain_id, r.seq, 'its content no longer matches its hash');
      else if (r.prev_hash !== w.hash) refuse(r.chain_id, r.seq, 'it does not follow the row before it');
      else {
        w.seq = r.seq;
        w.hash = r.row_hash;
      }
    }
  }
  for (const t of todo) {
    const w = walk.get(t.chain)!;
    if (!refused.has(t.chain) && w.seq < t.through) refuse(t.chain, w.seq + 1, `rows seq ${w.seq + 1}..${t.through} are missing`);
    if (!refused.has(t.chain)) cuts.set(t.chain, { chain_id: t.chain, through_seq: t.through, through_hash: w.hash });
  }

  // The anchor: this run's cuts, and the previous ones still needed (the chain has rows left,
  // or a kept chain-open row witnessed it).
  const heads = new Map(plan.map((p) => [p.chain_id, p.head]));
  const cutNow = new Set(cuts.keys());
  const witnessed = await witnessedChains(store, [...cutNow, ...done.keys()]);
  for (const [chain, c] of done) {
    if (cuts.has(chain)) continue;
    if ((heads.get(chain) ?? 0) > c.through_seq || witnessed.has(chain)) cuts.set(chain, c);
  }
  const newRows = [...cutNow].reduce((n, ch) => n + cuts.get(ch)!.through_seq - (done.get(ch)?.through_seq ?? 0), 0);
  for (const r of refused.values()) {
    o.logger?.error({ audit_chain: r.chain_id, seq: r.seq, reason: r.reason, code: 'GATELOG_ERR_AUDIT_EXPIRY_REFUSED' }, 'audit retention: a chain\'s expiring rows do not verify; they are kept (run `gatelog audit verify`)');
  }
  // Only leftovers of an earlier run (its deletion failed): the newest anchor covers them already.
  const anchor = cutNow.size === 0 && unchained === 0 ? undefined : await appendAudit(store, {
    action: AUDIT_EXPIRE, actor: SYSTEM_ACTOR, role: 'system', targetType: 'audit_trail', target: 'admin_audit',
    details: {
      before: cutoff, period: o.period, rows: newRows, unchained, chains: cutNow.size,
      cuts: [...cuts.values()].sort((a, b) => (a.chain_id < b.chain_id ? -1 : 1)),
      ...(refused.size ? { refused: [...refused.values()] } : {}),
      ...(keep.personHolds.length ? { holds: keep.personHolds } : {}),
    },
  });
  if (!anchor && !leftovers) return { ...none, refused: [...refused.values()] };
  const all = [...new Map([...done, ...cuts]).values()];
  await store.client.command({
    query: `ALTER TABLE ${db}.admin_audit DELETE
            WHERE (chain_id != '' AND seq <= arrayElement({through:Array(UInt64)}, indexOf({chains:Array(String)}, chain_id)) AND NOT ${keep.sql})
               OR (chain_id = '' AND at < {cutoff:DateTime64(3, 'UTC')} AND NOT ${keep.sql})`,
    query_params: { chains: all.map((c) => c.chain_id), through: all.map((c) => c.through_seq), cutoff: chTime(cutoff), ...keep.params },
    clickhouse_settings: { mutations_sync: '2' },
  });
  const out = { rows: newRows + unchained, chains: cutNow.size, refused: [...refused.values()], anchor };
  if (out.rows) o.logger?.info({ rows: out.rows, chains: out.chains, before: cutoff }, 'audit retention: expired audit rows older than the period');
  return out;
}

/** Chains (of `among`) that a chain-open row of a chain not among them — one this run keeps whole — witnessed. */
async function witnessedChains(store: Store, among: readonly string[]): Promise<Set<string>> {
  if (among.length === 0) return new Set();
  const rs = await store.client.query({
    query: `SELECT DISTINCT w FROM ${store.database}.admin_audit
            ARRAY JOIN arrayMap(x -> JSONExtractString(x, 'chain_id'), JSONExtractArrayRaw(details, 'witness')) AS w
            WHERE action = {open:String} AND NOT has({among:Array(String)}, chain_id) AND has({among:Array(String)}, w)`,
    query_params: { open: CHAIN_OPEN, among: [...among] },
    format: 'JSONEachRow',
  });
  return new Set(z.array(z.object({ w: z.string() })).parse(await rs.json()).map((r) => r.w));
}

/** The job one process at a time runs on a shared store. */
export const AUDIT_EXPIRE_JOB = 'audit-expire';

/**
 * One expiry if this process holds the `audit-expire` lease (several ingest workers sweep the
 * same store); `everyMs`: the sweep interval, so a holder that stops is replaced within three.
 */
export async function expireAuditLeased(store: Store, holder: string, everyMs: number, o: ExpireOptions): Promise<AuditExpiry | undefined> {
  if (durationMs(o.period) === null) return undefined;
  if (!(await claimJob(store, AUDIT_EXPIRE_JOB, holder, Math.max(3 * everyMs, 5000), TURN_SETTLE_MS))) return undefined;
  return expireAudit(store, o);
}

export const newExpiryHolder = (): string => `audit-expiry-${randomUUID()}`;

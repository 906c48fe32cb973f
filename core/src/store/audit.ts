// The audit trail: `appendAudit` is the one function every audited action calls (key changes,
// body views, searches, exports, people, settings, retention…), and the hash chain that makes
// the trail tamper-evident (`gatelog audit verify`, audit-verify.ts).
//
// Why a chain per writer, not one global chain: in distributed mode several proxies and UIs
// append at once and ClickHouse has no transactions or row locks, so one global chain would
// need a coordinator (a lock service, or one writer process every audited click goes through)
// — a new single point of failure for the admin surface. Instead each writer (a process's
// store handle) owns a chain: `chain_id` (a random UUID), `seq` 1, 2, 3…, each row's
// `prev_hash` the `row_hash` of the row before it in the same chain. Appends within a process
// are serialized by a promise queue, so a chain never forks. The first row of every chain
// (`audit.chain.open`) witnesses the heads of the other chains it can see, so deleting a whole
// older chain shows; every writer logs its head ("audit chain head") each minute and at
// shutdown, so a cut tail shows against the service log.
//
// Canonical serialization, version 1 (what `row_hash` covers):
//   row_hash = hex(SHA-256(UTF-8(JSON.stringify([
//     "gatelog-audit-v1", chain_id, seq, prev_hash, id, at, actor, role, action,
//     target_type, target, source_ip, user_agent, details ]))))
// Fixed field order; every field a JSON string except `seq` (a JSON number); `at` ISO-8601 UTC
// with milliseconds (`2026-12-02T17:21:11.000Z`); `details` the stored JSON text byte for byte.
// Text is made well-formed (lone surrogates → U+FFFD) before it is hashed or stored. The first
// row of a chain has `prev_hash` = 64 zeros.
//
// Limit, stated: anyone who can write ClickHouse and knows this algorithm can rebuild a chain
// from the edited row on; the logged heads (kept apart from the store, in the service log)
// are what such a rebuild cannot match.
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store } from './client.ts';
import { ChTime, Num } from './row-types.ts';

export const GENESIS_HASH = '0'.repeat(64);
export const CHAIN_OPEN = 'audit.chain.open';
export const HEAD_LOG_MSG = 'audit chain head';

export interface AuditInput {
  /** e.g. key.create, call.view, calls.search, export.run, person.create, settings.update */
  action: string;
  /** The person: an email, `master` (the master key), `open-ui`, or a machine token's name. Never a secret. */
  actor: string;
  /** The role the person acted as (owner, admin, analyst, auditor, viewer). */
  role?: string | undefined;
  targetType?: string | undefined;
  target?: string | undefined;
  /** What happened, without secrets (the caller removes them). */
  details?: Record<string, unknown> | undefined;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  /** Defaults to now. */
  at?: Date | undefined;
}

export const AuditRow = z.object({
  id: z.string(),
  at: ChTime,
  chain_id: z.string(),
  seq: Num,
  prev_hash: z.string(),
  row_hash: z.string(),
  actor: z.string(),
  role: z.string(),
  action: z.string(),
  target_type: z.string(),
  target: z.string(),
  /** JSON text of what happened. */
  details: z.string(),
  source_ip: z.string(),
  user_agent: z.string(),
});
export type AuditRow = z.infer<typeof AuditRow>;
/** The name the admin API and older callers know. */
export const AuditEntry = AuditRow;
export type AuditEntry = AuditRow;

export const AUDIT_COLUMNS = Object.keys(AuditRow.shape).join(', ');

const wellFormed = (s: string): string => s.toWellFormed();

/** The canonical text `row_hash` is computed over (see the top of this file). */
export function canonicalAudit(r: Omit<AuditRow, 'row_hash'>): string {
  return JSON.stringify([
    'gatelog-audit-v1', r.chain_id, r.seq, r.prev_hash, r.id, r.at, r.actor, r.role, r.action,
    r.target_type, r.target, r.source_ip, r.user_agent, r.details,
  ]);
}

export function auditHash(r: Omit<AuditRow, 'row_hash'>): string {
  return createHash('sha256').update(canonicalAudit(r), 'utf8').digest('hex');
}

export interface ChainHead {
  chain_id: string;
  seq: number;
  row_hash: string;
}

/** The latest head of every chain, newest first (what a new chain's open row witnesses). */
export async function chainHeads(store: Store, limit = 50): Promise<ChainHead[]> {
  const rs = await store.client.query({
    query: `SELECT chain_id, max(seq) AS head_seq, argMax(row_hash, seq) AS head_hash
            FROM ${store.database}.admin_audit WHERE chain_id != ''
            GROUP BY chain_id ORDER BY max(at) DESC LIMIT {limit:UInt32}`,
    query_params: { limit },
    format: 'JSONEachRow',
  });
  const rows = z.array(z.object({ chain_id: z.string(), head_seq: Num, head_hash: z.string() })).parse(await rs.json());
  return rows.map((r) => ({ chain_id: r.chain_id, seq: r.head_seq, row_hash: r.head_hash }));
}

/** One writer's chain. Appends are serialized; a failed insert makes the next append re-read the head. */
export class AuditChain {
  readonly id = randomUUID();
  #head: { seq: number; hash: string } | undefined;
  /** The last insert failed: whether it landed is unknown until the head is re-read. */
  #unsure = false;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  head(): ChainHead | undefined {
    return this.#head ? { chain_id: this.id, seq: this.#head.seq, row_hash: this.#head.hash } : undefined;
  }

  append(input: AuditInput): Promise<AuditRow> {
    const next = this.#queue.then(() => this.#appendNow(input));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #appendNow(input: AuditInput): Promise<AuditRow> {
    if (this.#unsure) await this.#reread();
    if (!this.#head) {
      const witness = (await chainHeads(this.#store)).filter((h) => h.chain_id !== this.id);
      await this.#insert({ action: CHAIN_OPEN, actor: 'gatelog', role: 'system', targetType: 'audit_chain', target: this.id, details: { host: hostname(), pid: process.pid, witness }, at: input.at });
    }
    return this.#insert(input);
  }

  async #reread(): Promise<void> {
    const rs = await this.#store.client.query({
      query: `SELECT seq, row_hash FROM ${this.#store.database}.admin_audit WHERE chain_id = {c:String} ORDER BY seq DESC LIMIT 1`,
      query_params: { c: this.id },
      format: 'JSONEachRow',
    });
    const last = z.array(z.object({ seq: Num, row_hash: z.string() })).parse(await rs.json())[0];
    // Nothing stored: the failed row did not land, and the rows before it (if any) were expired
    // by retention.audit (audit-expiry.ts) — the chain goes on from the head it had, never from
    // seq 1 again under the same id.
    if (last) this.#head = { seq: last.seq, hash: last.row_hash };
    this.#unsure = false;
  }

  async #insert(input: AuditInput): Promise<AuditRow> {
    const base = {
      id: randomUUID(),
      at: (input.at ?? new Date()).toISOString(),
      chain_id: this.id,
      seq: (this.#head?.seq ?? 0) + 1,
      prev_hash: this.#head?.hash ?? GENESIS_HASH,
      actor: wellFormed(input.actor),
      role: wellFormed(input.role ?? ''),
      action: wellFormed(input.action),
      target_type: wellFormed(input.targetType ?? ''),
      target: wellFormed(input.target ?? ''),
      details: wellFormed(JSON.stringify(input.details ?? {})),
      source_ip: wellFormed(input.sourceIp ?? ''),
      user_agent: wellFormed((input.userAgent ?? '').slice(0, 512)),
    };
    const row: AuditRow = { ...base, row_hash: auditHash(base) };
    try {
      await this.#store.insertRaw('admin_audit', Buffer.from(`${JSON.stringify(row)}\n`));
    } catch (err) {
      this.#unsure = true;
      throw err;
    }
    this.#head = { seq: row.seq, hash: row.row_hash };
    return row;
  }

  /** Logs this chain's head every `everyMs` (when it moved) and once more on stop. */
  logHeads(logger: Pick<Logger, 'info'>, everyMs = 60_000): { stop(): void } {
    let logged = 0;
    const log = (): void => {
      const h = this.head();
      if (!h || h.seq === logged) return;
      logged = h.seq;
      logger.info({ audit_chain: h.chain_id, seq: h.seq, row_hash: h.row_hash }, HEAD_LOG_MSG);
    };
    const timer = setInterval(log, everyMs);
    timer.unref();
    return {
      stop() {
        clearInterval(timer);
        log();
      },
    };
  }
}

// One chain per store handle: the embedded launcher hands the proxy and the UI the same store,
// so one process writes one chain; separate processes (distributed mode) write their own.
const chains = new WeakMap<Store, AuditChain>();

export function auditChain(store: Store): AuditChain {
  let c = chains.get(store);
  if (!c) {
    c = new AuditChain(store);
    chains.set(store, c);
  }
  return c;
}

/** Record one audited action (the one way rows reach admin_audit). */
export function appendAudit(store: Store, input: AuditInput): Promise<AuditRow> {
  return auditChain(store).append(input);
}

/** The earlier name of appendAudit. */
export const insertAudit = appendAudit;

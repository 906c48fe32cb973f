// `gatelog audit verify`: walks every chain of the audit trail (audit.ts) in seq order and
// names the first row that was changed, removed, reordered or duplicated. Pure over rows, so
// the same check runs on rows read from the store directly or from a running gatelog's API.
//   changed   — a row's content no longer hashes to its row_hash, or its prev_hash no longer
//               matches the row before it
//   reordered — a row's content hashes correctly only under another seq (its place was moved)
//   removed   — a gap in seq, a chain that does not start at seq 1 (full walks), a chain a
//               later chain's open row witnessed but which is gone, or a tail shorter than a
//               head the service log recorded
// Several chains: the problem reported is the earliest one in time; every chain's is listed.
//
// Rows the trail's own retention removed are not "removed": every expiry appends an
// `audit.expire` row (audit-expiry.ts) naming, per chain, the last seq it expired and that
// row's hash. Rows at or below such a cut may be missing; the first row kept after it must
// carry the cut's hash as its prev_hash, so a row deleted by hand just above a cut, or a cut
// moved by editing, still shows. Gaps are therefore judged at the end of the walk, when every
// anchor (they may sort after the chains they cut) has been seen.
import type { Store } from './client.ts';
import { chainRows, unchainedCount } from './audit-queries.ts';
import { CHAIN_OPEN, GENESIS_HASH, HEAD_LOG_MSG, auditHash, type AuditRow, type ChainHead } from './audit.ts';
import { AUDIT_EXPIRE, anchorOf } from './audit-expiry.ts';

export type AuditProblemKind = 'changed' | 'reordered' | 'removed' | 'duplicated';

export interface AuditProblem {
  kind: AuditProblemKind;
  chain_id: string;
  seq: number;
  /** The row named (for `removed`: the row right after the gap, if any). */
  id: string | null;
  at: string | null;
  message: string;
}

export interface ChainSummary {
  chain_id: string;
  first_seq: number;
  last_seq: number;
  rows: number;
  head_hash: string;
  problem: AuditProblem | undefined;
  /** The last seq the trail's retention expired (audit.expire), when it cut this chain. */
  expired_through?: number | undefined;
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  chains: ChainSummary[];
  /** The earliest problem of all chains. */
  problem: AuditProblem | undefined;
  /** Rows written before chains existed (migration 0010): not covered by any hash. */
  unchained?: number;
  /** The newest retention cutoff recorded by an audit.expire row: rows before it were expired by design. */
  expired_before?: string | undefined;
}

/** A logged chain head (`audit chain head` log line) and when it was logged (epoch ms). */
export type LoggedHead = ChainHead & { logged_at?: number | undefined };

/** How far around its place a moved row is looked for (a wider search only costs time on a broken row). */
const REORDER_WINDOW = 10_000;

function classifyBadHash(r: AuditRow): { kind: 'changed' | 'reordered'; seq?: number } {
  const lo = Math.max(1, r.seq - REORDER_WINDOW);
  for (let s = lo; s <= r.seq + REORDER_WINDOW; s++) {
    if (s !== r.seq && auditHash({ ...r, seq: s }) === r.row_hash) return { kind: 'reordered', seq: s };
  }
  return { kind: 'changed' };
}

interface Witness {
  /** The open row that witnessed the head; null for a head from the service log. */
  by: AuditRow | null;
  head: LoggedHead;
  source: string;
}

/** Missing seqs `from..to` of a chain, just before `row` (judged once every anchor is known). */
interface Gap {
  from: number;
  to: number;
  row: AuditRow;
  /** The chain starts with this gap (full walks). */
  start: boolean;
}

type ChainState = ChainSummary & { prevHash: string; gaps: Gap[] };

export class AuditVerifier {
  readonly #full: boolean;
  readonly #chains = new Map<string, ChainState>();
  readonly #witnesses: Witness[] = [];
  /** Hashes of the rows witnesses point at, found as rows pass. */
  readonly #seen = new Map<string, string>();
  /** Per chain, every cut an audit.expire row recorded: through seq → that row's hash. */
  readonly #cuts = new Map<string, Map<number, string>>();
  #expiredBefore = '';
  #rows = 0;

  /** `full`: the walk starts at the beginning of the trail (not `--from`), so chains must start at seq 1. */
  constructor(opts: { full: boolean }) {
    this.#full = opts.full;
  }

  /** Rows in (chain_id, seq) order. */
  feed(rows: Iterable<AuditRow>): void {
    for (const r of rows) this.#row(r);
  }

  #fail(c: ChainSummary, kind: AuditProblemKind, r: AuditRow | null, seq: number, message: string): void {
    c.problem ??= { kind, chain_id: c.chain_id, seq, id: r?.id ?? null, at: r?.at ?? null, message };
  }

  #row(r: AuditRow): void {
    this.#rows++;
    let c = this.#chains.get(r.chain_id);
    if (!c) {
      c = { chain_id: r.chain_id, first_seq: r.seq, last_seq: r.seq - 1, rows: 0, head_hash: '', problem: undefined, prevHash: r.prev_hash, gaps: [] };
      this.#chains.set(r.chain_id, c);
      if (this.#full && r.seq !== 1) c.gaps.push({ from: 1, to: r.seq - 1, row: r, start: true });
      if (this.#full && r.seq === 1 && r.prev_hash !== GENESIS_HASH) this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq 1) does not start its chain`);
    }
    c.rows++;
    if (r.action === CHAIN_OPEN) this.#witness(r);
    if (r.action === AUDIT_EXPIRE) this.#anchor(r);
    if (!c.problem) {
      const ok = auditHash(r) === r.row_hash;
      if (r.seq === c.last_seq) this.#fail(c, 'duplicated', r, r.seq, `row ${r.id} repeats seq ${r.seq} of chain ${r.chain_id} (a row was inserted or copied)`);
      else if (!ok) {
        const how = classifyBadHash(r);
        if (how.kind === 'reordered') this.#fail(c, 'reordered', r, r.seq, `row ${r.id} (chain ${r.chain_id}) was written as seq ${how.seq} and now stands at seq ${r.seq}: rows were reordered`);
        else this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq ${r.seq}, ${r.action} at ${r.at}) was changed: its content no longer matches its hash`);
      } else if (r.seq > c.last_seq + 1 && c.rows > 1) {
        c.gaps.push({ from: c.last_seq + 1, to: r.seq - 1, row: r, start: false });
      } else if (c.rows > 1 && r.prev_hash !== c.prevHash) {
        this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq ${r.seq}) does not follow the row before it: the chain was altered at this row`);
      }
    }
    this.#seen.set(`${r.chain_id}:${r.seq}`, r.row_hash);
    c.last_seq = r.seq;
    c.prevHash = r.row_hash;
    c.head_hash = r.row_hash;
  }

  #witness(r: AuditRow): void {
    try {
      const d = JSON.parse(r.details) as { witness?: ChainHead[] };
      for (const h of d.witness ?? []) {
        const head = { chain_id: h.chain_id, seq: Number(h.seq), row_hash: h.row_hash };
        this.#witnesses.push({ by: r, head, source: `chain ${r.chain_id} witnessed it at seq ${head.seq}` });
      }
    } catch {
      // A row whose details are not JSON fails its hash check already.
    }
  }

  /** An audit.expire row's cuts, trusted only when the row itself hashes right (it is checked in its own chain too). */
  #anchor(r: AuditRow): void {
    if (auditHash(r) !== r.row_hash) return;
    const a = anchorOf(r);
    if (!a) return;
    if (a.before > this.#expiredBefore) this.#expiredBefore = a.before;
    for (const cut of a.cuts) {
      let m = this.#cuts.get(cut.chain_id);
      if (!m) this.#cuts.set(cut.chain_id, (m = new Map()));
      m.set(cut.through_seq, cut.through_hash);
    }
  }

  /** The highest seq of `chain` an anchor says was expired (0: none). */
  #expiredThrough(chain: string): number {
    let e = 0;
    for (const s of this.#cuts.get(chain)?.keys() ?? []) if (s > e) e = s;
    return e;
  }

  /** Heads the service log recorded (`audit chain head` lines): a stored chain shorter than one of them lost its tail. */
  checkHeads(heads: Iterable<LoggedHead>): void {
    for (const h of heads) this.#witnesses.push({ by: null, head: h, source: `the service log recorded chain ${h.chain_id} at seq ${h.seq}` });
  }

  #checkHead(w: Witness): void {
    const { head: h, source, by } = w;
    const expired = this.#expiredThrough(h.chain_id);
    const cutHash = this.#cuts.get(h.chain_id)?.get(h.seq);
    const c = this.#chains.get(h.chain_id);
    if (cutHash !== undefined && cutHash !== h.row_hash) {
      const target = c ?? this.#ghost(h.chain_id);
      this.#fail(target, 'changed', null, h.seq, `chain ${h.chain_id} at seq ${h.seq} no longer matches: ${source} with another hash than its expiry recorded`);
      return;
    }
    // Rows the trail's retention expired: gone by design. A chain gone entirely whose head was
    // logged before the newest cutoff held only rows older than it, which expiry removes (such a
    // chain is not carried in anchors once nothing left in the trail names it). A chain with rows
    // left never loses its tail to expiry, which removes the oldest rows first.
    if (h.seq <= expired) return;
    if (!by && !c && h.logged_at !== undefined && this.#expiredBefore && h.logged_at < Date.parse(this.#expiredBefore)) return;
    if (!c) {
      if (!this.#full) return;
      const ghost = this.#ghost(h.chain_id);
      this.#fail(ghost, 'removed', null, h.seq, `chain ${h.chain_id} was removed entirely (${source})`);
      if (by) ghost.problem = { ...ghost.problem!, at: by.at };
      return;
    }
    if (h.seq < c.first_seq) return;
    const stored = this.#seen.get(`${h.chain_id}:${h.seq}`);
    if (c.last_seq < h.seq) this.#fail(c, 'removed', null, c.last_seq + 1, `rows after seq ${c.last_seq} of chain ${h.chain_id} were removed: ${source}`);
    else if (stored !== undefined && stored !== h.row_hash) this.#fail(c, 'changed', null, h.seq, `chain ${h.chain_id} at seq ${h.seq} no longer matches: ${source} with another hash (the chain was rewritten)`);
  }

  #ghost(chain: string): ChainState {
    let g = this.#chains.get(chain);
    if (!g) {
      g = { chain_id: chain, first_seq: 0, last_seq: 0, rows: 0, head_hash: '', problem: undefined, prevHash: '', gaps: [] };
      this.#chains.set(chain, g);
    }
    return g;
  }

  /** A gap's problem, if the trail's own expiry does not account for it. */
  #gapProblem(c: ChainState, g: Gap): AuditProblem | undefined {
    const cuts = this.#cuts.get(c.chain_id);
    const r = g.row;
    if (cuts && this.#expiredThrough(c.chain_id) >= g.to) {
      const cutHash = cuts.get(g.to);
      // Right after a cut, the kept row must follow the last expired one.
      if (cutHash === undefined || cutHash === r.prev_hash) return undefined;
      return { kind: 'changed', chain_id: c.chain_id, seq: r.seq, id: r.id, at: r.at, message: `row ${r.id} (chain ${c.chain_id} seq ${r.seq}) does not follow the last row the trail's retention expired (seq ${g.to}): the chain was altered at this row` };
    }
    const message = g.start
      ? `rows 1..${g.to} of chain ${c.chain_id} were removed (the chain now starts at row ${r.id}, seq ${r.seq})`
      : `${g.from === g.to ? `row seq ${g.from}` : `rows seq ${g.from}..${g.to}`} of chain ${c.chain_id} removed (just before row ${r.id}, ${r.action} at ${r.at})`;
    return { kind: 'removed', chain_id: c.chain_id, seq: g.from, id: r.id, at: r.at, message };
  }

  result(): AuditVerifyResult {
    // Gaps first (they precede, in seq order, whatever the walk stopped at), then witnesses.
    for (const c of this.#chains.values()) {
      const gap = c.gaps.map((g) => this.#gapProblem(c, g)).find((p) => p !== undefined);
      if (gap && (!c.problem || gap.seq <= c.problem.seq)) c.problem = gap;
    }
    for (const w of this.#witnesses) this.#checkHead(w);
    const chains = [...this.#chains.values()].map(({ prevHash: _p, gaps: _g, ...c }) => {
      const expired = this.#expiredThrough(c.chain_id);
      return expired ? { ...c, expired_through: expired } : c;
    });
    const problems = chains.map((c) => c.problem).filter((p): p is AuditProblem => p !== undefined);
    problems.sort((a, b) => (a.at ?? '9').localeCompare(b.at ?? '9'));
    return { ok: problems.length === 0, rows: this.#rows, chains, problem: problems[0], ...(this.#expiredBefore ? { expired_before: this.#expiredBefore } : {}) };
  }
}

/** The latest `audit chain head` per chain in pino JSON log text (other lines are skipped). */
export function headsFromLog(text: string): LoggedHead[] {
  const heads = new Map<string, LoggedHead>();
  for (const line of text.split('\n')) {
    if (!line.includes(HEAD_LOG_MSG)) continue;
    try {
      const o = JSON.parse(line) as { msg?: string; audit_chain?: string; seq?: number; row_hash?: string; time?: number | string };
      if (o.msg !== HEAD_LOG_MSG || !o.audit_chain || typeof o.seq !== 'number' || !o.row_hash) continue;
      const prev = heads.get(o.audit_chain);
      const at = typeof o.time === 'number' ? o.time : typeof o.time === 'string' ? Date.parse(o.time) : NaN;
      if (!prev || prev.seq < o.seq) heads.set(o.audit_chain, { chain_id: o.audit_chain, seq: o.seq, row_hash: o.row_hash, ...(Number.isFinite(at) ? { logged_at: at } : {}) });
    } catch {
      // Not a JSON log line.
    }
  }
  return [...heads.values()];
}

/** Walks the store's chains (rows at or after `from`, when given) and the logged heads. */
export async function verifyAudit(store: Store, opts: { from?: string | undefined; heads?: LoggedHead[] | undefined } = {}): Promise<AuditVerifyResult> {
  const v = new AuditVerifier({ full: !opts.from });
  for await (const page of chainRows(store, { from: opts.from })) v.feed(page);
  if (opts.heads) v.checkHeads(opts.heads);
  return { ...v.result(), unchained: await unchainedCount(store, opts.from) };
}

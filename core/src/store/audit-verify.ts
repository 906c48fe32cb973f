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
import type { Store } from './client.ts';
import { chainRows, unchainedCount } from './audit-queries.ts';
import { CHAIN_OPEN, GENESIS_HASH, HEAD_LOG_MSG, auditHash, type AuditRow, type ChainHead } from './audit.ts';

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
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  chains: ChainSummary[];
  /** The earliest problem of all chains. */
  problem: AuditProblem | undefined;
  /** Rows written before chains existed (migration 0010): not covered by any hash. */
  unchained?: number;
}

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
  by: AuditRow;
  head: ChainHead;
}

export class AuditVerifier {
  readonly #full: boolean;
  readonly #chains = new Map<string, ChainSummary & { prevHash: string }>();
  readonly #witnesses: Witness[] = [];
  /** Hashes of the rows witnesses point at, found as rows pass. */
  readonly #seen = new Map<string, string>();
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
      c = { chain_id: r.chain_id, first_seq: r.seq, last_seq: r.seq - 1, rows: 0, head_hash: '', problem: undefined, prevHash: r.prev_hash };
      this.#chains.set(r.chain_id, c);
      if (this.#full && r.seq !== 1) this.#fail(c, 'removed', r, 1, `rows 1..${r.seq - 1} of chain ${r.chain_id} were removed (the chain now starts at row ${r.id}, seq ${r.seq})`);
      if (this.#full && r.seq === 1 && r.prev_hash !== GENESIS_HASH) this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq 1) does not start its chain`);
    }
    c.rows++;
    const key = `${r.chain_id}:${r.seq}`;
    if (r.action === CHAIN_OPEN) this.#witness(r);
    if (!c.problem) {
      const ok = auditHash(r) === r.row_hash;
      if (r.seq === c.last_seq) this.#fail(c, 'duplicated', r, r.seq, `row ${r.id} repeats seq ${r.seq} of chain ${r.chain_id} (a row was inserted or copied)`);
      else if (!ok) {
        const how = classifyBadHash(r);
        if (how.kind === 'reordered') this.#fail(c, 'reordered', r, r.seq, `row ${r.id} (chain ${r.chain_id}) was written as seq ${how.seq} and now stands at seq ${r.seq}: rows were reordered`);
        else this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq ${r.seq}, ${r.action} at ${r.at}) was changed: its content no longer matches its hash`);
      } else if (r.seq > c.last_seq + 1 && c.rows > 1) {
        const gap = r.seq - c.last_seq - 1;
        this.#fail(c, 'removed', r, c.last_seq + 1, `${gap === 1 ? `row seq ${c.last_seq + 1}` : `rows seq ${c.last_seq + 1}..${r.seq - 1}`} of chain ${r.chain_id} removed (just before row ${r.id}, ${r.action} at ${r.at})`);
      } else if (c.rows > 1 && r.prev_hash !== c.prevHash) {
        this.#fail(c, 'changed', r, r.seq, `row ${r.id} (chain ${r.chain_id} seq ${r.seq}) does not follow the row before it: the chain was altered at this row`);
      }
    }
    this.#seen.set(key, r.row_hash);
    c.last_seq = r.seq;
    c.prevHash = r.row_hash;
    c.head_hash = r.row_hash;
  }

  #witness(r: AuditRow): void {
    try {
      const d = JSON.parse(r.details) as { witness?: ChainHead[] };
      for (const h of d.witness ?? []) this.#witnesses.push({ by: r, head: { chain_id: h.chain_id, seq: Number(h.seq), row_hash: h.row_hash } });
    } catch {
      // A row whose details are not JSON fails its hash check already.
    }
  }

  /** Heads the service log recorded (`audit chain head` lines): a stored chain shorter than one of them lost its tail. */
  checkHeads(heads: Iterable<ChainHead>): void {
    for (const h of heads) this.#checkHead(h, `the service log recorded chain ${h.chain_id} at seq ${h.seq}`, null);
  }

  #checkHead(h: ChainHead, source: string, by: AuditRow | null): void {
    const c = this.#chains.get(h.chain_id);
    if (!c) {
      if (!this.#full) return;
      const ghost: ChainSummary & { prevHash: string } = { chain_id: h.chain_id, first_seq: 0, last_seq: 0, rows: 0, head_hash: '', problem: undefined, prevHash: '' };
      this.#chains.set(h.chain_id, ghost);
      this.#fail(ghost, 'removed', null, h.seq, `chain ${h.chain_id} was removed entirely (${source})`);
      if (by) ghost.problem = { ...ghost.problem!, at: by.at };
      return;
    }
    if (h.seq < c.first_seq) return;
    const stored = this.#seen.get(`${h.chain_id}:${h.seq}`);
    if (c.last_seq < h.seq) this.#fail(c, 'removed', null, c.last_seq + 1, `rows after seq ${c.last_seq} of chain ${h.chain_id} were removed: ${source}`);
    else if (stored !== undefined && stored !== h.row_hash) this.#fail(c, 'changed', null, h.seq, `chain ${h.chain_id} at seq ${h.seq} no longer matches: ${source} with another hash (the chain was rewritten)`);
  }

  result(): AuditVerifyResult {
    for (const w of this.#witnesses) this.#checkHead(w.head, `chain ${w.by.chain_id} witnessed it at seq ${w.head.seq}`, w.by);
    const chains = [...this.#chains.values()].map(({ prevHash: _p, ...c }) => c);
    const problems = chains.map((c) => c.problem).filter((p): p is AuditProblem => p !== undefined);
    problems.sort((a, b) => (a.at ?? '9').localeCompare(b.at ?? '9'));
    return { ok: problems.length === 0, rows: this.#rows, chains, problem: problems[0] };
  }
}

/** The latest `audit chain head` per chain in pino JSON log text (other lines are skipped). */
export function headsFromLog(text: string): ChainHead[] {
  const heads = new Map<string, ChainHead>();
  for (const line of text.split('\n')) {
    if (!line.includes(HEAD_LOG_MSG)) continue;
    try {
      const o = JSON.parse(line) as { msg?: string; audit_chain?: string; seq?: number; row_hash?: string };
      if (o.msg !== HEAD_LOG_MSG || !o.audit_chain || typeof o.seq !== 'number' || !o.row_hash) continue;
      const prev = heads.get(o.audit_chain);
      if (!prev || prev.seq < o.seq) heads.set(o.audit_chain, { chain_id: o.audit_chain, seq: o.seq, row_hash: o.row_hash });
    } catch {
      // Not a JSON log line.
    }
  }
  return [...heads.values()];
}

/** Walks the store's chains (rows at or after `from`, when given) and the logged heads. */
export async function verifyAudit(store: Store, opts: { from?: string | undefined; heads?: ChainHead[] | undefined } = {}): Promise<AuditVerifyResult> {
  const v = new AuditVerifier({ full: !opts.from });
  for await (const page of chainRows(store, { from: opts.from })) v.feed(page);
  if (opts.heads) v.checkHeads(opts.heads);
  return { ...v.result(), unchained: await unchainedCount(store, opts.from) };
}

// Which pending audit rows go in a sink's next batch. Per chain, rows leave in seq order
// starting right after the sink's cursor; a row already sent (a duplicate) is passed over. A
// missing seq stops its chain: in distributed mode a row may show up late (a replica behind),
// so the gap is waited for `gapWaitMs`; only then are the rows after it sent, and the gap is
// reported (it is what `gatelog audit verify` names as removed). Rows at or below a chain's
// `expired` seq were removed by the trail's retention and are not waited for. Pure: time is
// passed in.
import type { AuditRow } from '../store/audit.ts';

export interface Gap {
  chain_id: string;
  /** First and last missing seq. */
  from: number;
  to: number;
}

export interface Batch {
  rows: AuditRow[];
  /** Per chain, the last seq in `rows`: the cursor once the sink accepted them. */
  heads: Map<string, number>;
  /** Gaps given up on in this batch. */
  skipped: Gap[];
}

/**
 * `pending`: rows past the cursors in (chain_id, seq) order. `gapSince`: when each chain's
 * current gap was first seen, kept by the caller between batches (updated here).
 */
export function nextBatch(pending: readonly AuditRow[], cursors: ReadonlyMap<string, number>, gapSince: Map<string, number>, now: number, gapWaitMs: number, expired: ReadonlyMap<string, number> = new Map()): Batch {
  const batch: Batch = { rows: [], heads: new Map(), skipped: [] };
  const stopped = new Set<string>();
  const gapped = new Set<string>();
  for (const r of pending) {
    const chain = r.chain_id;
    if (stopped.has(chain)) continue;
    // Rows the trail's retention expired (audit-expiry.ts) are not a gap: a sink added later starts after them.
    const expected = (batch.heads.get(chain) ?? Math.max(cursors.get(chain) ?? 0, expired.get(chain) ?? 0)) + 1;
    if (r.seq < expected) continue;
    if (r.seq > expected) {
      gapped.add(chain);
      const since = gapSince.get(chain);
      if (since === undefined) gapSince.set(chain, now);
      if (since === undefined || now - since < gapWaitMs) {
        stopped.add(chain);
        continue;
      }
      batch.skipped.push({ chain_id: chain, from: expected, to: r.seq - 1 });
      gapSince.delete(chain);
    }
    batch.rows.push(r);
    batch.heads.set(chain, r.seq);
  }
  for (const chain of gapSince.keys()) if (!gapped.has(chain)) gapSince.delete(chain);
  return batch;
}

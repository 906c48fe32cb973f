// Rows are stored already marked when an active legal hold covers them (llm_calls.legal_hold,
// which the retention TTLs read). The retention sweep marks stored rows too (every sweep_ms, an
// hour by default), but a row that arrives late — from a proxy's spool after a long Kafka outage
// — and is already older than the bodies' retention would otherwise lose its bodies at the next
// TTL merge before the sweep got to it.
//
// The holds are read at most every HOLDS_REFRESH_MS over HTTP (the sweep and a hold's own
// placement mark what this misses); embedded, at start and after this process changed one
// (holdsWrittenHere), since no other process writes to its data dir. Per row, while holds are
// active: a substring check for each held value, and a parse only when one is found.
import { activeCallHolds, holdsWrittenHere, isHeld, jsonText, type CallHold, type Store } from '@gatelog/core';
import { parsedRow } from './stored-rows.ts';

export const HOLDS_REFRESH_MS = 5000;
const MARK = Buffer.from(',"legal_hold":true', 'latin1');
const CLOSE_OBJ = 0x7d;

interface Hold {
  hold: CallHold;
  /** The value as it appears in the row's JSON text. */
  needle: string;
}

export interface MarkedPart {
  records: Buffer[];
}

export class HoldMarks {
  readonly #store: Store;
  readonly #now: () => number;
  #holds: Hold[] = [];
  #readAt = -Infinity;
  #readHere: number | null = null;
  readonly #marked = new WeakSet<MarkedPart>();

  constructor(store: Store, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** Reads the active holds when the last read may be stale. */
  async refresh(): Promise<void> {
    const here = holdsWrittenHere(this.#store);
    const fresh = this.#store.kind === 'embedded' ? this.#readHere === here : this.#now() - this.#readAt < HOLDS_REFRESH_MS;
    if (fresh) return;
    const holds = await activeCallHolds(this.#store);
    this.#holds = holds.map((h) => ({ hold: h, needle: jsonText(h.value) }));
    this.#readAt = this.#now();
    this.#readHere = here;
  }

  /** Marks the rows of each part (once per part) that an active hold covers; returns how many. */
  mark(parts: readonly MarkedPart[]): number {
    let n = 0;
    for (const p of parts) {
      if (this.#marked.has(p)) continue;
      this.#marked.add(p);
      if (this.#holds.length === 0) continue;
      p.records = p.records.map((record) => {
        const out = this.#marked1(record);
        if (out !== record) n++;
        return out;
      });
    }
    return n;
  }

  #marked1(record: Buffer): Buffer {
    let event: Record<string, unknown> | null | undefined;
    for (const h of this.#holds) {
      if (!record.includes(h.needle)) continue;
      if (event === undefined) event = parsedRow(record);
      if (event === null || 'legal_hold' in event) return record;
      if (!isHeld(event, [h.hold])) continue;
      const end = record.lastIndexOf(CLOSE_OBJ);
      return Buffer.concat([record.subarray(0, end), MARK, record.subarray(end)]);
    }
    return record;
  }
}

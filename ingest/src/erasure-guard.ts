// Erasure reaches the calls that were in flight when it was asked. `eraseCalls` records each
// request in `erasure_requests` before it rewrites llm_calls; ingest applies every recorded
// request to the rows it stores afterwards whose call started before the request: a covered
// call is stored with its bodies (and user) emptied and marked erased, or not at all when the
// request erased rows — unless an active legal hold covers it. That is what keeps an erased
// call erased when it was waiting in a proxy's spool during a Kafka outage, in Kafka's backlog
// or in an ingest batch, and when Kafka delivers a copy of it later; and the mark is what
// removes the feedback written on it before or after (core/src/store/feedback-removal.ts).
//
// Exactly, not eventually: the requests are read before a part is first written and again after
// each insert. A request recorded between the two (the window of one insert) is applied to the
// rows just inserted by a mutation on their request ids. One recorded after the second read was
// recorded after the insert was acknowledged, so the erasure's own mutation, which follows its
// record, covers those rows.
//
// A call an erasure scrubbed before it reached ingest (in a proxy's spool, in the event log) has
// no user left for a request to select: the scrub marked it (scrub-event.ts), and it is stored
// marked with the time it is stored, as a covered row is.
//
// Cost: two small reads per write over HTTP; embedded, none after the first unless this process
// recorded an erasure since (erasuresRecordedHere). Per row: nothing while no erasure was ever
// recorded. Else each row's identity is read by position (stored-rows.ts, ~0.6 µs): a row that
// started after every request goes on as it is; the others are first checked for the request's
// value (and the scrub's mark) as a substring, and parsed only when it is there (or when the
// request selects by time alone).
import type { Logger, Store } from '@gatelog/core';
import { ERASED_MARK, ERASURE_REREAD_MS, eraseStored, erasedEvent, erasureRule, activeCallHolds, erasuresRecordedHere, isHeld, listErasures, sqlText, type CallHold, type RecordedErasure, type ScrubRule } from '@gatelog/core';
import type { IngestMetrics } from './metrics.ts';
import { parsedRow, rowKey } from './stored-rows.ts';

interface Request {
  erasure: RecordedErasure;
  /** The calls it covers, over a parsed event; holds left to the caller. */
  rule: ScrubRule;
}

interface Hit {
  index: number;
  event: Record<string, unknown>;
  /** A covering request erased rows: the row is left out. */
  rows: boolean;
}

export interface GuardedPart {
  records: Buffer[];
}

export class ErasureGuard {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #metrics: IngestMetrics;
  readonly #requests: Request[] = [];
  readonly #seen = new Set<string>();
  /** Newest `at` among the requests (epoch ms); rows that started at or after it are not covered. */
  #newest = -Infinity;
  /** erasuresRecordedHere at the last read; null before the first. */
  #readHere: number | null = null;
  /** How many requests each part was filtered with (its first write). */
  readonly #filtered = new WeakMap<GuardedPart, number>();

  constructor(store: Store, logger: Logger, metrics: IngestMetrics) {
    this.#store = store;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /**
   * Reads the requests recorded since the last read. Embedded, only the first time and after this
   * process recorded one: no other process writes to its data dir while it runs.
   */
  async refresh(): Promise<void> {
    const here = erasuresRecordedHere(this.#store);
    if (this.#store.kind === 'embedded' && this.#readHere === here) return;
    const since = this.#newest === -Infinity ? 0 : this.#newest - ERASURE_REREAD_MS;
    const { erasures, unreadable } = await listErasures(this.#store, since);
    // Counted before the read: one recorded while it ran is read next time.
    this.#readHere = here;
    for (const e of erasures) {
      if (this.#seen.has(e.id)) continue;
      this.#seen.add(e.id);
      this.#requests.push({ erasure: e, rule: erasureRule(e, []) });
      if (e.at > this.#newest) this.#newest = e.at;
    }
    for (const id of unreadable) {
      if (this.#seen.has(id)) continue;
      this.#seen.add(id);
      this.#logger.warn({ erasure: id, code: 'GATELOG_ERR_ERASURE_UNREADABLE' }, 'ingest: an erasure request could not be read; rows it covers are stored as they come');
    }
  }

  /**
   * Before a part's first write: its rows with every request read so far applied (a covered
   * row erased or left out). Later calls for the same part leave it as it is: what was
   * recorded since is applied after its insert (afterInsert).
   */
  async filter(parts: readonly GuardedPart[]): Promise<void> {
    let holds: CallHold[] | null = null;
    for (const p of parts) {
      if (this.#filtered.has(p)) continue;
      p.records = this.#stamped(p.records);
      const hits = this.#hits(p.records, 0);
      if (hits.length > 0) {
        holds ??= await activeCallHolds(this.#store);
        p.records = this.#erased(p.records, hits.filter((h) => !isHeld(h.event, holds!)));
      }
      this.#filtered.set(p, this.#requests.length);
    }
  }

  /**
   * After the parts' rows are stored: the requests recorded since each part was filtered are
   * applied to its stored rows by a mutation on their request ids (rare: an erasure asked during
   * this write).
   */
  async afterInsert(parts: readonly GuardedPart[]): Promise<void> {
    await this.refresh();
    const bodies: string[] = [];
    const rows: string[] = [];
    let holds: CallHold[] | null = null;
    const through = this.#requests.length;
    for (const p of parts) {
      const from = this.#filtered.get(p) ?? 0;
      if (from === through) continue;
      const hits = this.#hits(p.records, from);
      if (hits.length > 0) holds ??= await activeCallHolds(this.#store);
      for (const h of hits) {
        const id = h.event['request_id'];
        if (typeof id !== 'string' || isHeld(h.event, holds!)) continue;
        (h.rows ? rows : bodies).push(id);
      }
    }
    const where = (ids: string[]): string => `toString(request_id) IN (${ids.map(sqlText).join(', ')})`;
    if (bodies.length > 0) await eraseStored(this.#store, where(bodies), false);
    if (rows.length > 0) await eraseStored(this.#store, where(rows), true);
    // Only once applied: a write retried after a failure here applies them again.
    for (const p of parts) this.#filtered.set(p, through);
    if (bodies.length + rows.length > 0) {
      this.#metrics.erased.inc({ mode: 'bodies' }, bodies.length);
      this.#metrics.erased.inc({ mode: 'rows' }, rows.length);
      this.#logger.info({ bodies: bodies.length, rows: rows.length }, 'ingest: applied an erasure asked during the insert to the rows just stored');
    }
  }

  /** `records` with the rows an erasure scrubbed on their way (its mark) stamped with the time they are stored. */
  #stamped(records: Buffer[]): Buffer[] {
    if (this.#requests.length === 0) return records;
    let out: Buffer[] | null = null;
    records.forEach((record, i) => {
      const key = rowKey(record);
      if ((key && key.ms >= this.#newest) || !record.includes(ERASED_MARK)) return;
      const event = parsedRow(record);
      // The text may be in a body: only the event's own field is the mark.
      if (event === null || typeof event['erased_at'] !== 'string') return;
      out ??= [...records];
      out[i] = erasedEvent(record, event, Date.now());
    });
    return out ?? records;
  }

  /** The rows of `records` that requests from index `from` on cover (holds not yet checked). */
  #hits(records: readonly Buffer[], from: number): Hit[] {
    const hits: Hit[] = [];
    if (from >= this.#requests.length) return hits;
    const requests = from === 0 ? this.#requests : this.#requests.slice(from);
    records.forEach((record, index) => {
      const key = rowKey(record);
      if (key && key.ms >= this.#newest) return;
      let event: Record<string, unknown> | null | undefined;
      let covered = false;
      let rows = false;
      for (const { erasure, rule } of requests) {
        if (key && key.ms >= erasure.at) continue;
        if (rule.needle !== undefined && !record.includes(rule.needle)) continue;
        event ??= parsedRow(record);
        if (event === null) return;
        if (!rule.match(event)) continue;
        covered = true;
        if (erasure.request.rows) {
          rows = true;
          break;
        }
      }
      if (covered && event) hits.push({ index, event, rows });
    });
    return hits;
  }

  /** `records` with `hits` applied: rows left out, or their bodies emptied. */
  #erased(records: readonly Buffer[], hits: readonly Hit[]): Buffer[] {
    if (hits.length === 0) return [...records];
    const out: Buffer[] = [];
    let h = 0;
    let bodies = 0;
    let rows = 0;
    records.forEach((record, i) => {
      const hit = hits[h]?.index === i ? hits[h++] : undefined;
      if (!hit) out.push(record);
      else if (hit.rows) rows++;
      else {
        bodies++;
        out.push(erasedEvent(record, hit.event, Date.now()));
      }
    });
    this.#metrics.erased.inc({ mode: 'bodies' }, bodies);
    this.#metrics.erased.inc({ mode: 'rows' }, rows);
    return out;
  }
}

// Erasure: remove the bodies (or whole rows) of the calls of a user, a key, a trace, or before
// a date, from ClickHouse and from every copy under the data dir (event log, spool, dead
// letters), honouring legal holds. One function for the CLI and the admin API; the caller
// audits the receipt.
//
// ClickHouse: bodies by `ALTER TABLE … UPDATE` (request/response bodies, error message and the
// user id emptied), rows by `ALTER TABLE … DELETE` — both mutations that rewrite the parts and
// are waited for (mutations_sync = 2), not lightweight DELETE, which only masks rows and leaves
// their bytes on disk until a merge. Rollups keep their counts: they hold no bodies.
//
// Calls in flight: the request is first recorded in `erasure_requests`, and ingest applies
// every recorded request to the rows it inserts afterwards whose call started before it
// (ingest/src/erasure-guard.ts) — so a call still in a proxy's spool, in Kafka's backlog or in
// an ingest batch when the erasure ran, or one Kafka delivers again later, is stored erased.
//
// An erased call that keeps its row is marked (`erased_at`, migration 0027), here and by ingest:
// feedback that reaches it afterwards is then hidden and removed by the retention sweep
// (feedback-removal.ts), which cannot tell from the row whose call it was once `user` is empty.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { localChanges, type Store } from './client.ts';
import { eraseOrphanBlocks } from './block-retention.ts';
import { jsonText, scrubDataDir, type ScrubResult, type ScrubRule } from './erasure-files.ts';
import { scrubbedEvent } from './scrub-event.ts';
import { activeCallHolds, eventTeam, heldExpr, isHeld, markHolds, sqlText } from './retention.ts';
import { eraseFeedback } from './feedback-removal.ts';
import { scrubExports, type ExportErasure, type ExportScrubResult } from './export-erasure.ts';
import type { ScheduledExportConfig } from '../config.ts';

/** Teams an erasure or a hold is limited to (at least one: none named = every team). */
export const TeamScope = z.array(z.string().max(128)).min(1).max(100);

export const EraseRequest = z.object({
  user: z.string().min(1).max(256).optional(),
  key: z.string().min(1).max(128).optional(),
  trace: z.string().min(1).max(256).optional(),
  /** Calls that started before this instant (ISO-8601). */
  before: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  /**
   * Only calls of these teams (a team-scoped caller's erasure is narrowed to its teams); absent
   * = every team, as in every request recorded before teams existed. A gatelog that predates
   * the field reads a recorded request that has it as unreadable (this schema is strict) and
   * skips it with a warning: it never widens such an erasure to every team.
   */
  teams: TeamScope.optional(),
  /** Delete the rows, not only their bodies. */
  rows: z.boolean().default(false),
}).strict().refine((r) => r.user !== undefined || r.key !== undefined || r.trace !== undefined || r.before !== undefined, 'name at least one of user, key, trace, before');
export type EraseRequest = z.infer<typeof EraseRequest>;

export interface EraseReceipt {
  /** Scheduled export files rewritten (export-erasure.ts): files, rows emptied, rows left out. */
  exports: ExportScrubResult;
  /** Calls whose bodies (or rows) were removed from ClickHouse. */
  rows: number;
  /** Body bytes removed from ClickHouse (uncompressed). */
  bytes: number;
  /** Matching calls left alone because a legal hold covers them. */
  held: number;
  /** Feedback rows on the erased calls removed (comments are personal data: bodies mode too). */
  feedback: number;
  /** Copies under the data dir scrubbed (event log, spool, dead letters). */
  files: ScrubResult;
  mode: 'bodies' | 'rows';
  ms: number;
  /** Of which: ClickHouse (holds, count, mutation) and the files. */
  store_ms: number;
  files_ms: number;
}

/** Epoch ms of a `before` selector (a date is its midnight UTC). */
export function beforeMs(before: string): number {
  return Date.parse(before.length === 10 ? `${before}T00:00:00Z` : before);
}

/** The selector as SQL over llm_calls (values as hex literals: no input reaches SQL text). */
export function selectorSql(r: EraseRequest): string {
  const w: string[] = [];
  if (r.user !== undefined) w.push(`user = ${sqlText(r.user)}`);
  if (r.key !== undefined) w.push(`key_id = ${sqlText(r.key)}`);
  if (r.trace !== undefined) w.push(`trace_id = ${sqlText(r.trace)}`);
  if (r.before !== undefined) w.push(`started_at < fromUnixTimestamp64Milli(${Math.trunc(beforeMs(r.before))}, 'UTC')`);
  if (r.teams !== undefined) w.push(`team IN (${r.teams.map(sqlText).join(', ')})`);
  return w.join(' AND ');
}

/** The selector over an event's JSON (the files' side of selectorSql); `at`, when the erasure was asked (it marks what it scrubs). */
export function selectorRule(r: EraseRequest, holds: Parameters<typeof isHeld>[1], at?: number): ScrubRule {
  const cutoff = r.before !== undefined ? beforeMs(r.before) : null;
  return {
    ...(at !== undefined ? { erasedAt: at } : {}),
    match: (e) =>
      (r.user === undefined || e['user'] === r.user) &&
      (r.key === undefined || e['key_id'] === r.key) &&
      (r.trace === undefined || e['trace_id'] === r.trace) &&
      (cutoff === null || Date.parse(String(e['started_at'])) < cutoff) &&
      (r.teams === undefined || r.teams.includes(eventTeam(e))) &&
      !isHeld(e, holds),
    alsoClear: ['user'],
    // Every selector but `before` names a value the raw record must contain (so does one team).
    needle: r.user !== undefined ? jsonText(r.user) : r.key ?? (r.trace !== undefined ? jsonText(r.trace) : r.teams?.length === 1 ? jsonText(r.teams[0] ?? '') : undefined),
  };
}

/**
 * attempt_io with its bodies (and their hashes, which could confirm a guessed text) emptied;
 * provider request ids, sizes and flags stay, like the call's own metadata.
 */
const ATTEMPT_IO_ERASED = `arrayMap(a -> CAST((a.provider_request_id, a.request_same, '', [], a.request_bytes, '', a.response_same, '', a.response_bytes, '', a.truncated), toTypeName(a)), attempt_io)`;
const ATTEMPT_IO_BYTES = `arraySum(a -> length(a.request_body) + length(a.response_body), attempt_io)`;
const ATTEMPT_IO_BODIES = `arrayExists(a -> a.request_body != '' OR a.response_body != '' OR a.request_sha256 != '' OR a.response_sha256 != '', attempt_io)`;

/** Fields an erased call's row keeps empty besides its bodies (as the mutation below empties them). */
export const ERASED_FIELDS = ['user'] as const;

/**
 * A call event as it is stored once an erasure covers it (ingest, for a call that reaches it
 * afterwards): bodies and ERASED_FIELDS emptied, marked erased at `at` (epoch ms). `e` is the
 * event parsed from `raw`; it is changed.
 */
export function erasedEvent(raw: Buffer, e: Record<string, unknown>, at: number): Buffer {
  e['erased_at'] = new Date(at).toISOString();
  return scrubbedEvent(raw, { match: () => true, alsoClear: ERASED_FIELDS }, e) ?? Buffer.from(JSON.stringify(e));
}

/** A recorded erasure request, as ingest reads it back. */
export interface RecordedErasure {
  id: string;
  /** When it was asked (epoch ms): it covers calls that started before. */
  at: number;
  request: EraseRequest;
}

/**
 * Recorded requests are read again from this long before the newest one seen: another host's
 * clock may lag, and a call may still be running this long after a request it started before.
 */
export const ERASURE_REREAD_MS = 60 * 60_000;

/**
 * The calls a recorded request covers, over an event's fields: those its selector names that
 * started before it was asked (a call without a readable start is covered).
 */
export function erasureRule(e: RecordedErasure, holds: Parameters<typeof isHeld>[1]): ScrubRule {
  return startedBefore(e, selectorRule(e.request, holds, e.at));
}

/** `selected` narrowed to the calls that started before `e` was asked (a call without a readable start is covered). */
function startedBefore(e: RecordedErasure, selected: ScrubRule): ScrubRule {
  return { ...selected, match: (c) => !(Date.parse(String(c['started_at'])) >= e.at) && selected.match(c) };
}

const recordedHere = localChanges();

/** How many erasures this process has recorded through `store`'s client (see LocalChanges). */
export function erasuresRecordedHere(store: Pick<Store, 'client'>): number {
  return recordedHere.count(store);
}

/** Records an erasure request for ingest to apply to calls still in flight. */
export async function recordErasure(store: Store, r: EraseRequest, at: number): Promise<RecordedErasure> {
  const e = { id: `erase_${randomUUID()}`, at, request: r };
  await store.client.insert({
    table: `${store.database}.erasure_requests`,
    values: [{ id: e.id, requested_at: new Date(at).toISOString().slice(0, 23).replace('T', ' '), selector: JSON.stringify(r) }],
    format: 'JSONEachRow',
  });
  recordedHere.add(store);
  return e;
}

/**
 * Requests recorded at or after `sinceMs` (epoch ms), oldest first. A stored selector that no
 * longer parses (written by a newer version) is skipped with its id in `unreadable`.
 */
export async function listErasures(store: Store, sinceMs: number): Promise<{ erasures: RecordedErasure[]; unreadable: string[] }> {
  const rs = await store.client.query({
    query: `SELECT id, toUnixTimestamp64Milli(requested_at) AS at, selector FROM ${store.database}.erasure_requests
            WHERE requested_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') ORDER BY requested_at, id`,
    query_params: { since: Math.max(0, Math.trunc(sinceMs)) },
    format: 'JSONEachRow',
  });
  const erasures: RecordedErasure[] = [];
  const unreadable: string[] = [];
  for (const row of await rs.json<{ id: string; at: string | number; selector: string }>()) {
    let parsed: ReturnType<typeof EraseRequest.safeParse> | null = null;
    try {
      parsed = EraseRequest.safeParse(JSON.parse(row.selector));
    } catch {
      parsed = null;
    }
    if (parsed?.success) erasures.push({ id: row.id, at: Number(row.at), request: parsed.data });
    else unreadable.push(row.id);
  }
  return { erasures, unreadable };
}

/**
 * Erase the stored calls `where` selects (bodies, or rows when `rows`), with the body blocks
 * only they used: one mutation, waited for. A row kept is marked erased at `at` (epoch ms; a
 * call erased before keeps its first mark). The caller's `where` leaves out held calls.
 */
export async function eraseStored(store: Store, where: string, rows: boolean, at = Date.now()): Promise<{ blockBytes: number }> {
  const db = store.database;
  // A literal, not now64(): a replicated table refuses a mutation with a non-deterministic function.
  const mark = `if(erased_at > fromUnixTimestamp64Milli(0, 'UTC'), erased_at, fromUnixTimestamp64Milli(${Math.trunc(at)}, 'UTC'))`;
  // The body blocks only these calls used go too (block-retention.ts).
  const { bytes } = await eraseOrphanBlocks(store, where, async () => {
    await store.client.command({
      query: rows
        ? `ALTER TABLE ${db}.llm_calls DELETE WHERE ${where}`
        : `ALTER TABLE ${db}.llm_calls UPDATE request_body = '', request_parts = [], response_body = '', error_message = '', ${ERASED_FIELDS.map((f) => `${f} = ''`).join(', ')}, attempt_io = ${ATTEMPT_IO_ERASED}, erased_at = ${mark} WHERE ${where}`,
      clickhouse_settings: { mutations_sync: '2' },
    });
  });
  return { blockBytes: bytes };
}

/**
 * A recorded request as the export files see it: the calls it selects that started before it
 * was asked, held calls spared, with nothing marked (an export row has no erased mark).
 */
export function exportErasure(e: RecordedErasure, holds: Parameters<typeof isHeld>[1]): ExportErasure {
  return { id: e.id, at: e.at, rows: e.request.rows, rule: startedBefore(e, selectorRule(e.request, holds)) };
}

export async function eraseCalls(store: Store, r: EraseRequest, opts: { dataDir?: string | undefined; exports?: readonly ScheduledExportConfig[] | undefined }): Promise<EraseReceipt> {
  const t0 = performance.now();
  const db = store.database;
  // First, so that ingest leaves out what reaches it from now on (see the top of this file).
  const recorded = await recordErasure(store, r, Date.now());
  await markHolds(store);
  const holds = await activeCallHolds(store);
  const sel = selectorSql(r);
  const held = heldExpr(holds);
  // `rows` and `held` count the calls with something left to erase; `unmarked`, those not yet
  // marked erased (one whose bodies had expired still needs the mark, for its later feedback).
  const left = r.rows ? 'true' : `(request_body != '' OR response_body != '' OR error_message != '' OR user != '' OR ${ATTEMPT_IO_BODIES})`;
  const rs = await store.client.query({
    query: `SELECT countIf(NOT ${held} AND ${left}) AS rows, sumIf(length(request_body) + length(response_body) + length(error_message) + ${ATTEMPT_IO_BYTES}, NOT ${held} AND ${left}) AS bytes,
                   countIf(${held} AND ${left}) AS held, countIf(NOT ${held} AND erased_at = fromUnixTimestamp64Milli(0, 'UTC')) AS unmarked
            FROM ${db}.llm_calls WHERE ${sel}`,
    format: 'JSONEachRow',
  });
  const [c] = await rs.json<{ rows: string | number; bytes: string | number; held: string | number; unmarked: string | number }>();
  const rows = Number(c?.rows ?? 0);
  // Feedback first: in rows mode the calls it is matched by are gone afterwards. Run even when
  // the bodies were erased before, for feedback written since.
  const feedback = await eraseFeedback(store, `${sel} AND NOT legal_hold`);
  // The body blocks only these calls used are counted in `bytes` too.
  const { blockBytes } = rows > 0 || Number(c?.unmarked ?? 0) > 0 ? await eraseStored(store, `${sel} AND NOT legal_hold`, r.rows) : { blockBytes: 0 };
  const t1 = performance.now();
  const files = opts.dataDir ? await scrubDataDir(opts.dataDir, [selectorRule(r, holds, recorded.at)]) : { records: 0, bytes: 0, files: 0 };
  const exports = opts.exports?.length ? await scrubExports(store, opts.exports, [exportErasure(recorded, holds)]) : { files: 0, rows: 0, removed: 0 };
  const t2 = performance.now();
  return {
    exports, rows, bytes: Number(c?.bytes ?? 0) + blockBytes, held: Number(c?.held ?? 0), feedback, files, mode: r.rows ? 'rows' : 'bodies',
    ms: Math.round(t2 - t0), store_ms: Math.round(t1 - t0), files_ms: Math.round(t2 - t1),
  };
}

// Feedback removed with its calls (feedback.ts writes and reads it): by an erasure, at once, for
// the feedback its calls have when it runs; by the retention sweep for feedback whose call is
// gone (expired, deleted, never stored), and for feedback that reaches an erased call after the
// erasure ran — written later by the application, or written first on a call that was still in
// flight and that ingest stored erased afterwards (ingest/src/erasure-guard.ts).
//
// Why the sweep goes by the call's erasure mark (llm_calls.erased_at, migration 0027) rather
// than applying every recorded erasure request to the calls again: an erased call keeps no user,
// so a request for a user no longer selects the calls it erased; and each request (an erasure
// `before` a date covers most of the table) would be a scan of llm_calls per sweep. The mark is
// set exactly where a request was applied — its selector, `before`, teams and the holds at the
// time — by the erasure's mutation and by ingest, so the sweep only asks which feedback names a
// marked call and which marked call gained feedback, since its last run.
import { z } from 'zod';
import type { Store } from './client.ts';
import { Num } from './row-types.ts';
import { sqlText } from './retention.ts';

/** Groups read and deleted per round (each group one tuple in the mutation's IN list). */
const GROUP_BATCH = 5000;

/**
 * Deletes every row (all names, authors and versions) of the groups — a call or a trace of a
 * key — with a current row matching `cond`, a batch of groups per mutation, until none is left;
 * returns the current rows removed. The mutation names its groups as hex literals rather than
 * reading other tables in a subquery, which a replicated cluster refuses in a mutation.
 */
async function removeGroups(store: Store, cond: string): Promise<number> {
  const db = store.database;
  let removed = 0;
  for (;;) {
    const rs = await store.client.query({
      query: `SELECT key_id, request_id, trace_id, count() AS n FROM ${db}.call_feedback FINAL WHERE ${cond}
              GROUP BY key_id, request_id, trace_id LIMIT ${GROUP_BATCH}`,
      format: 'JSONEachRow',
    });
    const groups = z.array(z.object({ key_id: z.string(), request_id: z.string(), trace_id: z.string(), n: Num })).parse(await rs.json());
    if (groups.length === 0) return removed;
    const tuples = groups.map((g) => `(${sqlText(g.key_id)}, ${sqlText(g.request_id)}, ${sqlText(g.trace_id)})`);
    await store.client.command({
      query: `ALTER TABLE ${db}.call_feedback DELETE WHERE (key_id, request_id, trace_id) IN (${tuples.join(', ')})`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    removed += groups.reduce((sum, g) => sum + g.n, 0);
    if (groups.length < GROUP_BATCH) return removed;
  }
}

/**
 * SQL over call_feedback: the rows on a call (by its key and id), or on a trace (by its key and
 * trace id) of a call, that `callsWhere` selects over llm_calls; `feedbackWhere` narrows the
 * feedback read to build the sets (fixed SQL, no input).
 */
function onCalls(db: string, callsWhere: string, feedbackWhere = 'true'): string {
  return `((request_id != '' AND (key_id, request_id) IN (SELECT key_id, toString(request_id) FROM ${db}.llm_calls
      WHERE ${callsWhere} AND request_id IN (SELECT toUUIDOrZero(request_id) FROM ${db}.call_feedback WHERE request_id != '' AND ${feedbackWhere})))
    OR (request_id = '' AND trace_id != '' AND (key_id, trace_id) IN (SELECT key_id, trace_id FROM ${db}.llm_calls
      WHERE trace_id != '' AND ${callsWhere} AND trace_id IN (SELECT trace_id FROM ${db}.call_feedback WHERE request_id = '' AND trace_id != '' AND ${feedbackWhere}))))`;
}

/** Removes the feedback of the calls `callsWhere` selects over llm_calls (erasure); returns the rows removed. */
export function eraseFeedback(store: Store, callsWhere: string): Promise<number> {
  return removeGroups(store, onCalls(store.database, callsWhere));
}

/** SQL over llm_calls: an erased call no legal hold covers now (a hold placed since keeps what it covers). */
export const ERASED_UNHELD_SQL = `erased_at > fromUnixTimestamp64Milli(0, 'UTC') AND NOT legal_hold`;

const chMs = (ms: number): string => `fromUnixTimestamp64Milli(${Math.trunc(ms)}, 'UTC')`;

async function countOf(store: Store, sql: string): Promise<Record<string, number>> {
  const rs = await store.client.query({ query: sql, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, string | number>>();
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

/**
 * Retention: removes the feedback on erased calls no hold covers (erased_at), and on the traces
 * of such calls by their key, as the erasure itself does. `sinceMs` (epoch ms) is when the last
 * run started, less a margin for other hosts' clocks: only feedback written since is checked
 * against every erased call, and only calls erased since against all feedback; null checks all.
 * Nothing erased, or nothing written and erased since: a count or two, no join. Returns the rows
 * removed.
 */
export async function pruneErasedFeedback(store: Store, sinceMs: number | null): Promise<number> {
  const db = store.database;
  const since = sinceMs === null ? null : chMs(sinceMs);
  const calls = await countOf(store, `SELECT count() AS erased${since ? `, countIf(erased_at >= ${since}) AS fresh` : ''} FROM ${db}.llm_calls WHERE erased_at > fromUnixTimestamp64Milli(0, 'UTC')`);
  if (!calls['erased']) return 0;
  if (since === null) return removeGroups(store, onCalls(db, ERASED_UNHELD_SQL));
  let removed = 0;
  const written = await countOf(store, `SELECT count() AS n FROM ${db}.call_feedback WHERE created_at >= ${since}`);
  // Feedback written since: against every erased call.
  if (written['n']) removed += await removeGroups(store, `created_at >= ${since} AND ${onCalls(db, ERASED_UNHELD_SQL, `created_at >= ${since}`)}`);
  // Calls erased since (ingest stored them erased after their feedback was written): against all feedback.
  if (calls['fresh']) removed += await removeGroups(store, onCalls(db, `erased_at >= ${since} AND ${ERASED_UNHELD_SQL}`));
  return removed;
}

/** How long feedback may wait for its call to be stored before the sweep counts it an orphan. */
export const FEEDBACK_GRACE_MS = 86_400_000;

/** The text a UUIDv7 minted at `ms` starts with (its first 48 bits are that millisecond). */
function v7Prefix(ms: number): string {
  const hex = Math.max(0, Math.trunc(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8)}`;
}

/**
 * Retention: removes feedback whose call (or trace, by that key) is no longer stored — expired
 * by its team's period, deleted by an erasure — or never was, once `graceMs` has passed since it
 * was written, or since the call started as its request id tells (gatelog's ids are UUIDv7, minted
 * when the call started): feedback sent today on a call of last week that an erasure deleted
 * goes at the next sweep, not a day later. A held call is kept, so is its feedback. Returns the
 * rows removed.
 */
export async function pruneFeedback(store: Store, now: number, graceMs = FEEDBACK_GRACE_MS): Promise<number> {
  const db = store.database;
  const cutMs = now - graceMs;
  const cut = `toDateTime64(${Math.trunc(cutMs / 1000)}, 3, 'UTC')`;
  // Ids compare as text: lowercase hex, the time first. Other ids (imported calls) by created_at only.
  const old = `(created_at < ${cut} OR (substring(request_id, 15, 1) = '7' AND request_id < '${v7Prefix(cutMs)}'))`;
  // Most sweeps find no feedback old enough: then llm_calls is not read at all.
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${db}.call_feedback WHERE ${old}`, format: 'JSONEachRow' });
  if (Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0) === 0) return 0;
  return removeGroups(store, `${old} AND NOT (
      (request_id != '' AND (key_id, request_id) IN (SELECT key_id, toString(request_id) FROM ${db}.llm_calls
        WHERE request_id IN (SELECT toUUIDOrZero(request_id) FROM ${db}.call_feedback WHERE request_id != '')))
      OR (request_id = '' AND (key_id, trace_id) IN (SELECT key_id, trace_id FROM ${db}.llm_calls
        WHERE trace_id != '' AND trace_id IN (SELECT trace_id FROM ${db}.call_feedback WHERE request_id = ''))))`);
}

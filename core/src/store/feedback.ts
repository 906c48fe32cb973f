// Feedback and scores on recorded calls (migration 0025, call_feedback): what an application
// sends for its end users (POST /v1/feedback, Portkey's and gatelog's shapes) and what a person
// marks on a request page (PUT /admin/calls/:id/feedback). One input check for both surfaces,
// the write and the reads (one call's feedback, a page's summaries, the explorer's filter); its
// removal with its calls (erasure, retention) is feedback-removal.ts.
//
// Why feedback is matched on the key when it is read, not checked when it is written: a call
// is stored about a second after it answered (ingest lag), and an application scores it right
// away. So a row records the key that sent it (`key_id`) and attaches only to calls that key
// made: a key naming another key's call (or one that does not exist) gets the same answer, and
// its row attaches to nothing. A person's row records the call's own key, read when written.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { ChTime, Num } from './row-types.ts';
import { ERASED_UNHELD_SQL } from './feedback-removal.ts';
import { idTimeWindow } from './queries.ts';

export const FEEDBACK_LIMITS = { name: 64, comment: 4096, metadataEntries: 32, metadataKey: 64, metadataValue: 512, trace: 256, minValue: -10, maxValue: 10 } as const;
export const FEEDBACK_NAME_RE = /^[A-Za-z0-9_.:/-]{1,64}$/;
export const DEFAULT_FEEDBACK_NAME = 'feedback';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A refused input: `code` is stable, `param` names the field. */
export class FeedbackInputError extends Error {
  override readonly name = 'FeedbackInputError';
  readonly code: string;
  readonly param: string | null;
  constructor(code: string, message: string, param: string | null) {
    super(message);
    this.code = code;
    this.param = param;
  }
}

export interface FeedbackInput {
  /** Lowercased call id, or '' for feedback on a whole trace. */
  requestId: string;
  traceId: string;
  name: string;
  value: number;
  weight: number;
  comment: string;
  metadata: Record<string, string>;
}

const API_FIELDS = ['request_id', 'trace_id', 'value', 'weight', 'name', 'comment', 'metadata'] as const;
const PERSON_FIELDS = ['value', 'name', 'comment'] as const;

const fail = (code: string, message: string, param: string | null): never => {
  throw new FeedbackInputError(code, message, param);
};

function metadataOf(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('invalid_metadata', '`metadata` must be an object of string values.', 'metadata');
  const entries = Object.entries(v as object);
  const L = FEEDBACK_LIMITS;
  if (entries.length > L.metadataEntries) fail('invalid_metadata', `\`metadata\` may hold at most ${L.metadataEntries} entries.`, 'metadata');
  for (const [k, x] of entries) {
    if (typeof x !== 'string') fail('invalid_metadata', '`metadata` values must be strings.', `metadata.${k.slice(0, 64)}`);
    if (k.length === 0 || k.length > L.metadataKey || (x as string).length > L.metadataValue) fail('invalid_metadata', `\`metadata\` keys are 1–${L.metadataKey} characters, values at most ${L.metadataValue}.`, 'metadata');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * A feedback body checked: `api` is POST /v1/feedback (request_id or trace_id, Portkey's weight
 * and metadata), `person` the request page's (value, name, comment; the call is in the path).
 * Unknown fields are refused, as a misspelt one would otherwise be lost without a word.
 */
export function parseFeedback(body: Record<string, unknown>, surface: 'api' | 'person'): FeedbackInput {
  const known: readonly string[] = surface === 'api' ? API_FIELDS : PERSON_FIELDS;
  const unknown = Object.keys(body).find((k) => !known.includes(k));
  if (unknown !== undefined) fail('unknown_parameter', `Unknown parameter ${JSON.stringify(unknown.slice(0, 64))}; feedback takes ${known.join(', ')}.`, unknown.slice(0, 64));
  let requestId = '';
  let traceId = '';
  if (surface === 'api') {
    const rid = body['request_id'];
    const tid = body['trace_id'];
    if (rid === undefined && tid === undefined) fail('missing_id', 'Name the call with `request_id` (its x-gatelog-request-id) or a trace with `trace_id`.', 'request_id');
    if (rid !== undefined && tid !== undefined) fail('ambiguous_id', 'Give either `request_id` or `trace_id`, not both.', 'trace_id');
    if (rid !== undefined) {
      if (typeof rid !== 'string' || !UUID_RE.test(rid)) fail('invalid_request_id', '`request_id` must be a call id as x-gatelog-request-id gives it.', 'request_id');
      requestId = (rid as string).toLowerCase();
    } else if (typeof tid !== 'string' || tid.length === 0 || tid.length > FEEDBACK_LIMITS.trace) {
      fail('invalid_trace_id', `\`trace_id\` must be a string of 1–${FEEDBACK_LIMITS.trace} characters.`, 'trace_id');
    } else traceId = tid;
  }
  const value = body['value'];
  if (value === undefined) fail('missing_value', 'You must provide a `value`.', 'value');
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('invalid_value', '`value` must be a number.', 'value');
  if ((value as number) < FEEDBACK_LIMITS.minValue || (value as number) > FEEDBACK_LIMITS.maxValue) fail('value_out_of_range', `\`value\` must be between ${FEEDBACK_LIMITS.minValue} and ${FEEDBACK_LIMITS.maxValue}.`, 'value');
  const weight = body['weight'] ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 1) fail('invalid_weight', '`weight` must be a number between 0 and 1.', 'weight');
  const name = body['name'] ?? DEFAULT_FEEDBACK_NAME;
  if (typeof name !== 'string' || !FEEDBACK_NAME_RE.test(name)) fail('invalid_name', `\`name\` must be 1–${FEEDBACK_LIMITS.name} characters of A–Z, a–z, 0–9 and _ . : / -.`, 'name');
  const comment = body['comment'] ?? '';
  if (typeof comment !== 'string') fail('invalid_comment', '`comment` must be a string.', 'comment');
  if ((comment as string).length > FEEDBACK_LIMITS.comment) fail('comment_too_long', `\`comment\` may be at most ${FEEDBACK_LIMITS.comment} characters.`, 'comment');
  return { requestId, traceId, name: name as string, value: value as number, weight: weight as number, comment: (comment as string).toWellFormed(), metadata: metadataOf(body['metadata']) };
}

/** Who wrote a row, and the call's fields that scope it (team) and erase it (key, user). */
export interface FeedbackAuthor {
  /** `key:<id>`, `person:<email>`, `token:<id>`, `master` or `open`: never a secret. */
  by: string;
  source: 'api' | 'ui';
  keyId: string;
  team: string;
  user: string;
}

const chNow = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

const rowOf = (f: FeedbackInput, who: FeedbackAuthor, at: number) => ({
  key_id: who.keyId, request_id: f.requestId, trace_id: f.traceId, name: f.name, scored_by: who.by, value: f.value, weight: f.weight,
  comment: f.comment, metadata: f.metadata, source: who.source, team: who.team, user: who.user, created_at: chNow(at),
});

async function insertRows(store: Store, values: readonly ReturnType<typeof rowOf>[]): Promise<void> {
  await store.client.insert({
    table: `${store.database}.call_feedback`,
    values: values as ReturnType<typeof rowOf>[],
    format: 'JSONEachRow',
    // A ClickHouse server gathers several proxies' writes into one part (a part per thumbs-up
    // would pile up into "too many parts"), and answers once the rows are stored.
    ...(store.kind === 'http' ? { clickhouse_settings: { async_insert: 1, wait_for_async_insert: 1 } } : {}),
  });
}

/** Inserts one row, resolved once it is stored (a newer row replaces the same author's earlier value of the same name). */
export function insertFeedback(store: Store, f: FeedbackInput, who: FeedbackAuthor, at: number): Promise<void> {
  return insertRows(store, [rowOf(f, who, at)]);
}

/** Why a write was not queued: too many of this key's writes, or of all, wait for the store. */
export class FeedbackBusyError extends Error {
  override readonly name = 'FeedbackBusyError';
  readonly scope: 'key' | 'all';
  constructor(scope: 'key' | 'all') {
    super(scope === 'key' ? 'too many feedback writes of this key are waiting to be stored' : 'too many feedback writes are waiting to be stored');
    this.scope = scope;
  }
}

export interface FeedbackWriterOptions {
  /** How long a write waits for others to share its insert. */
  lingerMs?: number;
  /** Rows per insert at most. */
  maxRows?: number;
  /** Writes waiting (queued or in the insert under way) for one key, and for all. */
  maxPendingPerKey?: number;
  maxPending?: number;
}

export interface FeedbackWriter {
  /** Resolves once the row is stored; rejects with the insert's error, or FeedbackBusyError at once. */
  write(f: FeedbackInput, who: FeedbackAuthor, at: number): Promise<void>;
  /** Stores what is queued, then refuses nothing more is expected. */
  close(): Promise<void>;
}

interface Waiting {
  row: ReturnType<typeof rowOf>;
  key: string;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Feedback writes gathered into one insert at a time (every `lingerMs`, at most `maxRows` rows):
 * an application sending thumbs as fast as it can makes a few inserts a second, not one part
 * per thumb — in the embedded store above all, where every insert is a part and its merges run
 * beside every tenant's calls. Each key may have `maxPendingPerKey` writes waiting, so one
 * flooding key is refused (and the others are not) before the queue reaches `maxPending`.
 */
export function feedbackWriter(store: Store, o: FeedbackWriterOptions = {}): FeedbackWriter {
  const lingerMs = o.lingerMs ?? 50;
  const maxRows = o.maxRows ?? 1000;
  const perKey = o.maxPendingPerKey ?? 200;
  const maxPending = o.maxPending ?? 10_000;
  const queue: Waiting[] = [];
  let pending = 0;
  const byKey = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const settle = (batch: readonly Waiting[]): void => {
    pending -= batch.length;
    for (const w of batch) {
      const n = (byKey.get(w.key) ?? 1) - 1;
      if (n <= 0) byKey.delete(w.key);
      else byKey.set(w.key, n);
    }
  };
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0) {
      const batch = queue.splice(0, maxRows);
      chain = chain.then(() => insertRows(store, batch.map((w) => w.row))).then(
        () => { settle(batch); for (const w of batch) w.resolve(); },
        (err: unknown) => { settle(batch); for (const w of batch) w.reject(err); },
      );
    }
  };
  return {
    write(f, who, at) {
      const key = who.keyId || who.by;
      if ((byKey.get(key) ?? 0) >= perKey) return Promise.reject(new FeedbackBusyError('key'));
      if (pending >= maxPending) return Promise.reject(new FeedbackBusyError('all'));
      pending++;
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
      return new Promise<void>((resolve, reject) => {
        queue.push({ row: rowOf(f, who, at), key, resolve, reject });
        if (queue.length >= maxRows) flush();
        else timer ??= setTimeout(flush, lingerMs);
      });
    },
    async close() {
      flush();
      await chain;
    },
  };
}

export const FeedbackRow = z.object({
  request_id: z.string(),
  trace_id: z.string(),
  name: z.string(),
  by: z.string(),
  value: Num,
  weight: Num,
  comment: z.string(),
  metadata: z.record(z.string(), z.string()),
  source: z.string(),
  created_at: ChTime,
});
export type FeedbackRow = z.infer<typeof FeedbackRow>;

/** What identifies a call for its feedback. */
export interface ScoredCall {
  request_id: string;
  key_id: string;
  trace_id: string;
}

/**
 * The call's current feedback (on it, and on its trace by its key), newest first. None on an
 * erased call, nor a trace's when an erased call of the key is in it (unless a hold covers the
 * call): feedback that reached them after the erasure is not shown before the retention sweep
 * removes it (feedback-removal.ts).
 */
export async function feedbackForCall(store: Store, call: ScoredCall, limit = 200): Promise<FeedbackRow[]> {
  const db = store.database;
  const id = call.request_id.toLowerCase();
  // The id's time bounds the call's start: a few granules by the primary key (queries.ts).
  const window = idTimeWindow(id);
  const rs = await readQuery(store, {
    query: `SELECT request_id, trace_id, name, scored_by AS by, value, weight, comment, metadata, source, created_at
            FROM ${db}.call_feedback FINAL
            WHERE key_id = {k:String} AND (request_id = {id:String} OR ({t:String} != '' AND request_id = '' AND trace_id = {t:String}))
              AND NOT (request_id != '' AND (SELECT count() FROM ${db}.llm_calls WHERE request_id = toUUIDOrZero({id:String}) AND key_id = {k:String}
                ${window ? `AND started_at BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}` : ''} AND ${ERASED_UNHELD_SQL}) > 0)
              AND NOT (request_id = '' AND (SELECT count() FROM ${db}.llm_calls WHERE {t:String} != '' AND trace_id = {t:String} AND key_id = {k:String} AND ${ERASED_UNHELD_SQL}) > 0)
            ORDER BY created_at DESC LIMIT {limit:UInt32}`,
    query_params: { k: call.key_id, id, t: call.trace_id, limit, ...window },
  });
  return z.array(FeedbackRow).parse(await rs.json());
}

/**
 * Whether feedback from the key `keyId` names what an erasure took, and so is refused rather than
 * taken and then hidden and removed (feedbackForCall above, feedback-removal.ts): a call marked
 * erased that no legal hold covers, or a trace whose stored calls of that key all are. A trace
 * with a call left is taken as before (its feedback is hidden while it holds such a call, and
 * the sweep removes it); so is a call not stored yet, which ingest may still store erased (the
 * sweep removes that feedback too), and one a `rows` erasure deleted (an unknown id).
 */
export async function namesErasedCalls(store: Store, keyId: string, f: Pick<FeedbackInput, 'requestId' | 'traceId'>): Promise<boolean> {
  const db = store.database;
  const id = f.requestId.toLowerCase();
  const window = id ? idTimeWindow(id) : undefined;
  const which = id
    ? `request_id = toUUIDOrZero({id:String}) ${window ? `AND started_at BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}` : ''}`
    : 'trace_id = {t:String}';
  const rs = await readQuery(store, {
    query: `SELECT count() AS calls, countIf(${ERASED_UNHELD_SQL}) AS erased FROM ${db}.llm_calls WHERE key_id = {k:String} AND ${which}`,
    query_params: { k: keyId, id, t: f.traceId, ...window },
  });
  const [n] = z.array(z.object({ calls: Num, erased: Num })).parse(await rs.json());
  return n !== undefined && n.calls > 0 && n.erased === n.calls;
}

export interface FeedbackSummary {
  count: number;
  min: number;
  avg: number;
}

/** Each call's feedback count, lowest and mean value (calls without feedback are absent). */
export async function feedbackSummaries(store: Store, calls: readonly ScoredCall[]): Promise<Map<string, FeedbackSummary>> {
  const out = new Map<string, FeedbackSummary>();
  if (calls.length === 0) return out;
  const traces = [...new Set(calls.map((c) => c.trace_id).filter(Boolean))];
  const rs = await readQuery(store, {
    query: `SELECT key_id, request_id, trace_id, value FROM ${store.database}.call_feedback FINAL
            WHERE key_id IN {keys:Array(String)} AND (request_id IN {ids:Array(String)} OR (request_id = '' AND trace_id IN {traces:Array(String)}))
            LIMIT 100000`,
    query_params: { keys: [...new Set(calls.map((c) => c.key_id))], ids: calls.map((c) => c.request_id.toLowerCase()), traces },
  });
  const rows = z.array(z.object({ key_id: z.string(), request_id: z.string(), trace_id: z.string(), value: Num })).parse(await rs.json());
  // One pass over the rows into groups (a call's own by key and id, a trace's by key and trace
  // id), then one lookup of at most two groups per call: not every row for every call.
  const groups = new Map<string, number[]>();
  const groupOf = (key: string, kind: 'call' | 'trace', id: string): string => `${key}\u0000${kind}\u0000${id}`;
  for (const r of rows) {
    const g = r.request_id !== '' ? groupOf(r.key_id, 'call', r.request_id) : groupOf(r.key_id, 'trace', r.trace_id);
    const values = groups.get(g);
    if (values) values.push(r.value);
    else groups.set(g, [r.value]);
  }
  for (const c of calls) {
    const own = groups.get(groupOf(c.key_id, 'call', c.request_id.toLowerCase())) ?? [];
    const trace = c.trace_id !== '' ? groups.get(groupOf(c.key_id, 'trace', c.trace_id)) ?? [] : [];
    const count = own.length + trace.length;
    if (count === 0) continue;
    let min = Infinity;
    let sum = 0;
    for (const values of [own, trace]) for (const v of values) {
      if (v < min) min = v;
      sum += v;
    }
    out.set(c.request_id, { count, min, avg: sum / count });
  }
  return out;
}

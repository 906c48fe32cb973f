// Rows ClickHouse already holds are left out of an insert. llm_calls is a ReplacingMergeTree
// read with FINAL, so a duplicate is never *shown*; but the rollup views (llm_calls_1m and the
// hourly ones fed from it) sum whatever each insert carries, so a duplicate that reaches an
// insert is counted twice in every spend and latency dashboard, forever. Kafka can hold a
// record twice: a relay send that timed out after the broker appended it, a batch re-sent
// split after one partition refused it as too large, a proxy killed between Kafka's ack and
// its spool commit. The insert deduplication token only catches the same batch replayed.
//
// So, for every write from Kafka (and for what the local log re-reads after a restart), the
// rows' request ids are looked up first — one query per 10,000 rows, the time ranges of the
// rows bounding the primary-key scan — and a row whose id is stored, or repeats within the
// write, is dropped before the insert. Only the identity is read from each row (its top-level
// `request_id` and `started_at`: by position where the row is laid out as the proxy writes it,
// else by a walk over its top-level keys that stops once it has both): a row without a readable
// identity is inserted as before.
import type { Store } from '@gatelog/core';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

const REQUEST_ID = Buffer.from('"request_id"', 'latin1');
const STARTED_AT = Buffer.from('"started_at"', 'latin1');
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UPPER = /[A-F]/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Ids looked up per query (38 bytes each in the query's one string literal: see QUERY_SETTINGS). */
export const IDS_PER_QUERY = 10000;
/** Room for IDS_PER_QUERY ids (ClickHouse's default max_query_size is 256 KiB). */
const QUERY_SETTINGS = { max_query_size: String(1 << 20) };
/** Rows further apart in time than this are looked up in separate primary-key ranges. */
const RANGE_GAP_MS = 60_000;
/** Beyond this many ranges, one range from the earliest row to the latest. */
const MAX_RANGES = 32;

export interface RowKey {
  /** request_id, lower-case. */
  id: string;
  /** started_at, epoch ms. */
  ms: number;
}

/** A row parsed, when it is a JSON object; null otherwise (ClickHouse judges, and dead-letters, such a row). */
export function parsedRow(record: Buffer): Record<string, unknown> | null {
  try {
    const e = JSON.parse(record.toString('utf8')) as unknown;
    return typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/**
 * Index just past the string whose opening quote is at `i`; -1 when it does not end. A byte
 * loop, not Buffer.indexOf: the strings read on the way to the identity are short, and a native
 * call per string cost more than the loop (~1.7 → ~1.0 µs per event walked).
 */
function stringEnd(b: Buffer, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    const c = b[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`; -1 when it does not end. */
function valueEnd(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i);
  if (c === OPEN_OBJ || c === OPEN_ARR) {
    let depth = 0;
    for (let j = i; j < b.length; j++) {
      const x = b[j];
      if (x === QUOTE) {
        const end = stringEnd(b, j);
        if (end === -1) return -1;
        j = end - 1;
      } else if (x === OPEN_OBJ || x === OPEN_ARR) depth++;
      else if (x === CLOSE_OBJ || x === CLOSE_ARR) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < b.length && b[j] !== COMMA && b[j] !== CLOSE_OBJ && !isSpace(b[j])) j++;
  return j;
}

/** Whether `want`'s bytes stand at `i` in `b`. */
function bytesAt(b: Buffer, i: number, want: Buffer): boolean {
  if (i + want.length > b.length) return false;
  for (let k = 0; k < want.length; k++) if (b[i + k] !== want[k]) return false;
  return true;
}

function isKey(b: Buffer, start: number, end: number, key: Buffer): boolean {
  return end - start === key.length && bytesAt(b, start, key);
}

/** A plain (escape-free) string value at `i`, or undefined. */
function plainString(b: Buffer, i: number, end: number): string | undefined {
  if (b[i] !== QUOTE || end - i < 2) return undefined;
  for (let k = i + 1; k < end - 1; k++) if (b[k] === BACKSLASH) return undefined;
  return b.toString('latin1', i + 1, end - 1);
}

/**
 * The row's top-level request_id and started_at, or null when it has not both in a form read
 * here (then it is inserted without a lookup). The proxy writes them third and fourth, so the
 * walk reads ~100 bytes of a proxy event; another producer's order costs a skip of each value
 * before them.
 */
export function rowKey(b: Buffer): RowKey | null {
  return proxyRowKey(b) ?? walkedRowKey(b);
}

const PROXY_HEAD = Buffer.from('{"schema_version":', 'latin1');
const AFTER_VERSION = Buffer.from(',"gatelog_version":"', 'latin1');
const ID_KEY = Buffer.from(',"request_id":"', 'latin1');
const AT_KEY = Buffer.from('","started_at":"', 'latin1');


/** A lower-case hex digit (the proxy writes UUIDs so). */
function hexDigit(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66));
}

function digits(b: Buffer, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const d = (b[k] ?? 0) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The identity as the proxy writes it (core/src/event.ts key order): schema_version,
 * gatelog_version, then request_id as a lower-case UUID and started_at as
 * YYYY-MM-DDTHH:MM:SS.mmmZ, read by position without a string or a regex; null when the row is
 * laid out any other way (then walkedRowKey reads it).
 */
function proxyRowKey(b: Buffer): RowKey | null {
  if (!bytesAt(b, 0, PROXY_HEAD)) return null;
  let i = PROXY_HEAD.length;
  while (b[i] !== undefined && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  if (!bytesAt(b, i, AFTER_VERSION)) return null;
  i += AFTER_VERSION.length;
  for (; i < b.length && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) return null;
  if (!bytesAt(b, i + 1, ID_KEY)) return null;
  const id = i + 1 + ID_KEY.length;
  for (let k = 0; k < 36; k++) {
    const c = b[id + k];
    if (k === 8 || k === 13 || k === 18 || k === 23 ? c !== 0x2d : !hexDigit(c)) return null;
  }
  const at = id + 36 + AT_KEY.length;
  if (!bytesAt(b, id + 36, AT_KEY) || b[at + 23] !== 0x5a /* Z */ || b[at + 24] !== QUOTE) return null;
  if (b[at + 4] !== 0x2d || b[at + 7] !== 0x2d || b[at + 10] !== 0x54 || b[at + 13] !== COLON || b[at + 16] !== COLON || b[at + 19] !== 0x2e) return null;
  const [y, mo, d, h, mi, sec, ms] = [digits(b, at, 4), digits(b, at + 5, 2), digits(b, at + 8, 2), digits(b, at + 11, 2), digits(b, at + 14, 2), digits(b, at + 17, 2), digits(b, at + 20, 3)];
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) return null;
  return { id: b.toString('latin1', id, id + 36), ms: Date.UTC(y, mo - 1, d, h, mi, sec, ms) };
}

function walkedRowKey(b: Buffer): RowKey | null {
  let i = skipSpace(b, 0);
  if (b[i] !== OPEN_OBJ) return null;
  i = skipSpace(b, i + 1);
  let id: string | undefined;
  let ms: number | undefined;
  while (b[i] === QUOTE) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd === -1) return null;
    let v = skipSpace(b, keyEnd);
    if (b[v] !== COLON) return null;
    v = skipSpace(b, v + 1);
    const end = valueEnd(b, v);
    if (end === -1) return null;
    if (isKey(b, i, keyEnd, REQUEST_ID)) {
      const s = plainString(b, v, end);
      if (s === undefined || !UUID.test(s)) return null;
      id = UPPER.test(s) ? s.toLowerCase() : s;
    } else if (isKey(b, i, keyEnd, STARTED_AT)) {
      const s = plainString(b, v, end);
      if (s === undefined || !ISO_UTC.test(s)) return null;
      ms = Date.parse(s);
      if (Number.isNaN(ms)) return null;
    }
    if (id !== undefined && ms !== undefined) return { id, ms };
    i = skipSpace(b, end);
    if (b[i] !== COMMA) return null;
    i = skipSpace(b, i + 1);
  }
  return null;
}

const dateTime = (ms: number): string => `toDateTime64('${new Date(ms).toISOString().slice(0, 23).replace('T', ' ')}', 3, 'UTC')`;

/** `started_at` bounds covering every key: near rows share a range (the primary key prunes the rest). */
function timeRanges(keys: readonly RowKey[]): string {
  const times = Float64Array.from(keys, (k) => k.ms).sort();
  const ranges: [number, number][] = [];
  for (const t of times) {
    const last = ranges.at(-1);
    if (last && t - last[1] <= RANGE_GAP_MS) last[1] = t;
    else ranges.push([t, t]);
  }
  const list = ranges.length <= MAX_RANGES ? ranges : [[times[0]!, times[times.length - 1]!] as [number, number]];
  return list.map(([from, to]) => `started_at BETWEEN ${dateTime(from)} AND ${dateTime(to)}`).join(' OR ');
}

/** Which of `keys`' ids llm_calls holds already. */
export async function storedIds(store: Store, keys: readonly RowKey[]): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let at = 0; at < keys.length; at += IDS_PER_QUERY) {
    const chunk = keys.slice(at, at + IDS_PER_QUERY);
    // Ids and times are inlined: both were checked above to be plain hex-and-dash and ISO text.
    // The ids go as one string literal read by the format() table function: a literal list of
    // 10,000 UUIDs cost ClickHouse's parser ~3× more, and a literal split into an array (a huge
    // constant to fold) ~1.5× more and far less steadily (chDB, engine CPU per id: list 9–26 µs
    // all in, split 1.9–7.3, format() 1.5–1.7).
    const rs = await store.client.query({
      query: `SELECT DISTINCT toString(request_id) AS id FROM ${store.database}.llm_calls WHERE (${timeRanges(chunk)}) AND request_id IN (SELECT id FROM format(TSV, 'id UUID', '${chunk.map((k) => k.id).join('\\n')}'))`,
      format: 'JSONEachRow',
      clickhouse_settings: QUERY_SETTINGS,
    });
    for (const row of await rs.json<{ id: string }>()) stored.add(row.id);
  }
  return stored;
}

export interface Unstored {
  /** The rows to insert, in their order. */
  records: Buffer[];
  /** Rows left out: stored already, or a repeat of an earlier row of the same write. */
  dropped: number;
  /** The kept rows' ids in order (a write's identity once rows were left out); '' when none was. */
  keptIds: string;
}

/** `records` without the rows ClickHouse already holds or that repeat within them. */
export async function withoutStored(store: Store, records: readonly Buffer[]): Promise<Unstored> {
  const keys = records.map(rowKey);
  /** Each id's first row: a later row with that id repeats it. */
  const first = new Map<string, RowKey>();
  let keyed = 0;
  for (const k of keys) {
    if (!k) continue;
    keyed++;
    if (!first.has(k.id)) first.set(k.id, k);
  }
  const stored = first.size > 0 ? await storedIds(store, [...first.values()]) : new Set<string>();
  if (stored.size === 0 && first.size === keyed) return { records: [...records], dropped: 0, keptIds: '' };
  const drop = (k: RowKey | null): boolean => k !== null && (first.get(k.id) !== k || stored.has(k.id));
  const kept: Buffer[] = [];
  const ids: string[] = [];
  records.forEach((record, i) => {
    const k = keys[i] ?? null;
    if (drop(k)) return;
    if (k) ids.push(k.id);
    kept.push(record);
  });
  return { records: kept, dropped: records.length - kept.length, keptIds: ids.join(',') };
}

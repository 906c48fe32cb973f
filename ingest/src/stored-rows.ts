// Rows ClickHouse already holds are left out of an insert. llm_calls is a ReplacingMergeTree
// read with FINAL, so a duplicate is never *shown*; but the rollup views (llm_calls_1m and the
// hourly ones fed from it) sum whatever each insert carries, so a duplicate that reaches an
// insert is counted twice in every spend and latency dashboard, forever. Kafka can hold a
// record twice: a relay send that timed out after the broker appended it, a batch re-sent
// split after one partition refused it as too large, a proxy killed between Kafka's ack and
// its spool commit. The insert deduplication token only catches the same batch replayed.
//
// So, for every write from Kafka (and for what the local log re-reads after a restart), the
// rows' request ids are looked up first — one query per 4,000 rows, the time ranges of the
// rows bounding the primary-key scan — and a row whose id is stored, or repeats within the
// write, is dropped before the insert. Only the identity is read from each row (its top-level
// `request_id` and `started_at`, by a byte walk that stops once it has both): a row without a
// readable identity is inserted as before.
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
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Ids looked up per query: ~40 bytes each keeps a query well under max_query_size (256 KiB). */
export const IDS_PER_QUERY = 4000;
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

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/** Index just past the string whose opening quote is at `i`; -1 when it does not end. */
function stringEnd(b: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, from);
    if (q === -1) return -1;
    let k = q - 1;
    while (k > i && b[k] === BACKSLASH) k--;
    // An even run of backslashes before the quote escapes nothing: the string ends here.
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
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

function isKey(b: Buffer, start: number, end: number, key: Buffer): boolean {
  return end - start === key.length && b.compare(key, 0, key.length, start, end) === 0;
}

/** A plain (escape-free) string value at `i`, or undefined. */
function plainString(b: Buffer, i: number, end: number): string | undefined {
  if (b[i] !== QUOTE || end - i < 2) return undefined;
  const inner = b.subarray(i + 1, end - 1);
  return inner.includes(BACKSLASH) ? undefined : inner.toString('latin1');
}

/**
 * The row's top-level request_id and started_at, or null when it has not both in a form read
 * here (then it is inserted without a lookup). The proxy writes them third and fourth, so the
 * walk reads ~100 bytes of a proxy event; another producer's order costs a skip of each value
 * before them.
 */
export function rowKey(b: Buffer): RowKey | null {
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
      const s = plainString(b, v, end)?.toLowerCase();
      if (s === undefined || !UUID.test(s)) return null;
      id = s;
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
  const times = keys.map((k) => k.ms).sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const t of times) {
    const last = ranges.at(-1);
    if (last && t - last[1] <= RANGE_GAP_MS) last[1] = t;
    else ranges.push([t, t]);
  }
  const list = ranges.length <= MAX_RANGES ? ranges : [[times[0]!, times.at(-1)!] as [number, number]];
  return list.map(([from, to]) => `started_at BETWEEN ${dateTime(from)} AND ${dateTime(to)}`).join(' OR ');
}

/** Which of `keys`' ids llm_calls holds already. */
export async function storedIds(store: Store, keys: readonly RowKey[]): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let at = 0; at < keys.length; at += IDS_PER_QUERY) {
    const chunk = keys.slice(at, at + IDS_PER_QUERY);
    // Ids and times are inlined: both were checked above to be plain hex-and-dash and ISO text.
    const rs = await store.client.query({
      query: `SELECT DISTINCT lower(toString(request_id)) AS id FROM ${store.database}.llm_calls WHERE (${timeRanges(chunk)}) AND request_id IN (${chunk.map((k) => `'${k.id}'`).join(',')})`,
      format: 'JSONEachRow',
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
  /** The kept rows' ids in order (a write's identity once rows were left out). */
  keptIds: string;
}

/** `records` without the rows ClickHouse already holds or that repeat within them. */
export async function withoutStored(store: Store, records: readonly Buffer[]): Promise<Unstored> {
  const keys = records.map(rowKey);
  const first = new Map<string, RowKey>();
  for (const k of keys) if (k && !first.has(k.id)) first.set(k.id, k);
  const stored = first.size > 0 ? await storedIds(store, [...first.values()]) : new Set<string>();
  const seen = new Set<string>();
  const kept: Buffer[] = [];
  const ids: string[] = [];
  records.forEach((record, i) => {
    const k = keys[i];
    if (k) {
      if (stored.has(k.id) || seen.has(k.id)) return;
      seen.add(k.id);
      ids.push(k.id);
    }
    kept.push(record);
  });
  return { records: kept, dropped: records.length - kept.length, keptIds: ids.join(',') };
}

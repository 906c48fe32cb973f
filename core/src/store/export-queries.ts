// Audit exports: every call matching a filter, oldest first, from llm_calls FINAL.
//
// `exportBytes` is what the UI streams: one query whose output bytes ClickHouse itself writes
// (CSV, or JSONL lines built in SQL; ISO timestamps and CSV formula neutralization done in
// SQL), passed through chunk by chunk (Store.streamQuery), so memory stays flat at any size
// and no row is parsed or re-encoded in JS. Every filter value is a bound `{name:Type}`
// parameter, on both backends.
//
// `exportPages` is the typed, row-parsing variant (bounded keyset pages), for callers that
// want objects rather than bytes.
import { z } from 'zod';
import { ChTime, Num } from './row-types.ts';
import { AttemptIoRow } from './attempt-io-row.ts';
import type { Store } from './client.ts';
import { callWhere, chTime, type ExplorerFilter } from './call-filter.ts';
import { attemptIoCellSql, newSpliceNonce, requestBodyCellSql, spliceBlocks } from './export-blocks.ts';
import { restoreBodies } from './blocks.ts';


/** What an export holds: the exact bodies and key id/name; no secret exists in llm_calls. */
export const ExportRow = z.object({
  request_id: z.string(),
  started_at: ChTime,
  trace_id: z.string(),
  session_id: z.string(),
  user: z.string(),
  tags: z.record(z.string(), z.string()),
  key_id: z.string(),
  key_name: z.string(),
  team: z.string(),
  endpoint: z.string(),
  client_api: z.string(),
  requested_model: z.string(),
  provider: z.string(),
  upstream_model: z.string(),
  stream: z.boolean(),
  status: Num,
  outcome: z.string(),
  error_type: z.string(),
  error_message: z.string(),
  finish_reason: z.string(),
  input_tokens: Num,
  output_tokens: Num,
  cached_tokens: Num,
  reasoning_tokens: Num,
  /** Cache writes (5-minute + 1-hour), audio parts and the price table (migration 0015). */
  cache_creation_tokens: Num,
  cache_write_5m_tokens: Num,
  cache_write_1h_tokens: Num,
  input_audio_tokens: Num,
  output_audio_tokens: Num,
  /** Audio seconds, speech characters, images and image input tokens (migration 0030). */
  input_image_tokens: Num,
  audio_seconds: Num,
  input_characters: Num,
  images: Num,
  image_size: z.string(),
  image_quality: z.string(),
  cost_usd: Num.nullable(),
  price_version: z.string(),
  cache_hit: z.boolean(),
  ttft_ms: Num.nullable(),
  latency_ms: Num,
  overhead_ms: Num,
  attempts: z.array(z.object({ provider: z.string(), model: z.string(), status: Num, error_class: z.string(), latency_ms: Num })),
  request_body: z.string(),
  response_body: z.string(),
  truncated: z.boolean(),
  /** Per attempt, the upstream request as sent and the raw response (migration 0013). */
  attempt_io: z.array(AttemptIoRow),
  /** The call this one replays, '' for a client's own (migration 0020). */
  replay_of: z.string(),
});
export type ExportRow = z.infer<typeof ExportRow>;

export const EXPORT_COLUMNS = Object.keys(ExportRow.shape) as (keyof ExportRow)[];

/** Pages of matching calls, oldest first; stops when the filter is exhausted. */
export async function* exportPages(store: Store, filter: ExplorerFilter, pageRows = 5000): AsyncGenerator<ExportRow[]> {
  const w = callWhere(filter, 'f_', store.database);
  const base = w.sql ? [w.sql.slice('WHERE '.length)] : [];
  let cursor: { t: string; id: string } | undefined;
  for (;;) {
    const conds = [...base];
    const params: Record<string, unknown> = { ...w.params, limit: pageRows };
    if (cursor) {
      conds.push(`(started_at, request_id) > ({c_t:DateTime64(3, 'UTC')}, {c_id:UUID})`);
      params['c_t'] = chTime(cursor.t);
      params['c_id'] = cursor.id;
    }
    const rs = await store.client.query({
      query: `SELECT ${EXPORT_COLUMNS.join(', ')}, request_parts
              FROM ${store.database}.llm_calls FINAL
              ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
              ORDER BY started_at, request_id
              LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = z.array(ExportRow).parse(await restoreBodies(store, await rs.json()));
    if (rows.length > 0) yield rows;
    const last = rows[rows.length - 1];
    if (rows.length < pageRows || !last) return;
    cursor = { t: last.started_at, id: last.request_id };
  }
}

export type ExportFormat = 'csv' | 'jsonl';

/** ClickHouse DateTime64(3, 'UTC') text as UTC ISO-8601 (`…T…Z`), the form JS writes. */
const ISO_STARTED_AT = `concat(replaceOne(toString(started_at, 'UTC'), ' ', 'T'), 'Z')`;

/**
 * A string cell a spreadsheet would read as a formula (= + - @, tab or CR first) gets a
 * leading single quote (OWASP "CSV injection"); the same rule as the UI's csvCell.
 */
export function neutralizedSql(col: string): string {
  return `if(substring(${col}, 1, 1) IN ('=', '+', '-', '@', '\\t', '\\r'), concat('''', ${col}), ${col})`;
}

const JSON_COLUMNS = new Set<string>(['tags', 'attempts', 'attempt_io']);

/**
 * A String expression as a JSON string literal. ClickHouse's JSON writer escapes a character at
 * a time (~120 MB/s a core here, and bodies are JSON full of quotes); two `replaceAll`s do the
 * same for any text without control characters, which are the only other characters JSON
 * requires escaped. The rare text that has one takes `toJSONString`.
 */
export function jsonStringSql(expr: string): string {
  return `if(match(${expr}, '[\\\\x00-\\\\x1f]'), toJSONString(${expr}), concat('"', replaceAll(replaceAll(${expr}, '\\\\', '\\\\\\\\'), '"', '\\\\"'), '"'))`;
}

/** One JSONL line per call, built in SQL (see jsonStringSql), keys in EXPORT_COLUMNS order. */
function jsonLineSql(nonce?: string): string {
  const parts = EXPORT_COLUMNS.map((c, i) => {
    const type = ExportRow.shape[c].def.type;
    let value: string;
    if (c === 'started_at') value = `concat('"', ${ISO_STARTED_AT}, '"')`;
    else if (c === 'attempt_io' && nonce) value = attemptIoCellSql(`toJSONString(${c})`, nonce, 'jsonl');
    else if (JSON_COLUMNS.has(c)) value = `toJSONString(${c})`;
    else if (c === 'request_body' && nonce) value = requestBodyCellSql(jsonStringSql(c), nonce, 'jsonl');
    else if (type === 'string') value = jsonStringSql(`toString(${c})`);
    else if (type === 'boolean') value = `if(${c}, 'true', 'false')`;
    else if (type === 'nullable') value = `ifNull(toString(${c}), 'null')`;
    else value = `toString(${c})`;
    return `'${i === 0 ? '{' : ','}"${c}":', ${value}`;
  });
  return `concat(${parts.join(', ')}, '}') AS line`;
}

/** One SELECT expression per export column, aliased to the column's name. */
/** With `nonce`, a split request body is written as a token for spliceBlocks (export-blocks.ts). */
export function exportSelect(format: ExportFormat, nonce?: string): string {
  if (format === 'jsonl') return jsonLineSql(nonce);
  return EXPORT_COLUMNS.map((c) => {
    if (c === 'started_at') return `${ISO_STARTED_AT} AS started_at`;
    if (c === 'attempt_io' && nonce) return `${attemptIoCellSql(`toJSONString(${c})`, nonce, 'csv')} AS ${c}`;
    if (JSON_COLUMNS.has(c)) return `toJSONString(${c}) AS ${c}`;
    if (c === 'request_body' && nonce) return `${requestBodyCellSql(neutralizedSql(c), nonce, 'csv')} AS ${c}`;
    if (ExportRow.shape[c].def.type === 'string' && c !== 'request_id') return `${neutralizedSql(c)} AS ${c}`;
    return c;
  }).join(', ');
}

// Fixed output settings (never user input): numbers as JSON numbers, slashes unescaped, CSV
// rows CRLF-terminated with empty cells for NULL, as the row-by-row encoder wrote them.
const OUTPUT_SETTINGS = [
  // The output columns reuse the table's names (started_at as ISO text, …): the filter and
  // ORDER BY must still see the stored columns, not those aliases.
  'prefer_column_name_to_alias = 1',
  'output_format_json_quote_64bit_integers = 0',
  'output_format_json_escape_forward_slashes = 0',
  'output_format_json_named_tuples_as_objects = 1',
  'output_format_csv_crlf_end_of_line = 1',
  "format_csv_null_representation = ''",
  // The `if`s above (formula neutralization, JSON escaping) compute only the branch they take.
  "short_circuit_function_evaluation = 'force_enable'",
].join(', ');

/** The one export query (no SETTINGS or FORMAT clause), its bound parameters and its settings. */
export function exportQuery(
  store: Pick<Store, 'database'>,
  filter: ExplorerFilter,
  format: ExportFormat,
  nonce?: string,
): { query: string; params: Record<string, unknown>; settings: string } {
  const w = callWhere(filter, 'f_', store.database);
  return {
    // ORDER BY spelled as the table's sorting key, so ClickHouse reads in order and streams
    // without a full sort.
    query: `SELECT ${exportSelect(format, nonce)}
            FROM ${store.database}.llm_calls FINAL
            ${w.sql}
            ORDER BY toDate(started_at), started_at, request_id`,
    params: w.params,
    settings: OUTPUT_SETTINGS,
  };
}

/** Double quotes in `b[from, to)`, four bytes at a time (`words` views all of `b.buffer`). */
function quotesIn(b: Uint8Array, words: Uint32Array, from: number, to: number): number {
  let n = 0;
  let i = from;
  const off = b.byteOffset;
  for (; i < to && ((off + i) & 3) !== 0; i++) if (b[i] === 0x22) n++;
  const wEnd = (off + to) >> 2;
  for (let wi = (off + i) >> 2; wi < wEnd; wi++) {
    // Exact per-byte match: the high bit of each byte of `m` is set where that byte is '"'.
    const t = words[wi]! ^ 0x22222222;
    const m = (~(((t & 0x7f7f7f7f) + 0x7f7f7f7f) | t) & 0x80808080) >>> 7;
    n += (m + (m >>> 8) + (m >>> 16) + (m >>> 24)) & 0xff;
  }
  for (i = Math.max(i, (wEnd << 2) - off); i < to; i++) if (b[i] === 0x22) n++;
  return n;
}

/**
 * Where rows end in `b`, an export's bytes after a quote parity `odd` (1 = inside a cell): the
 * index of each row's line end, and the parity after `b`. JSONL: every line end (JSON escapes
 * newlines inside strings). CSV: line ends outside double quotes (ClickHouse quotes any string
 * cell and doubles inner quotes, so an odd number of quotes since the last row end means
 * "inside a cell"). The one rule for what an export's row is: the digest counts by it
 * (ExportRowCounter), an erasure rewrites by it (export-erasure.ts).
 */
export function exportRowEnds(b: Buffer, csv: boolean, odd: number): { ends: number[]; odd: number } {
  const ends: number[] = [];
  if (!csv) {
    for (let pos = b.indexOf(0x0a); pos !== -1; pos = b.indexOf(0x0a, pos + 1)) ends.push(pos);
    return { ends, odd: 0 };
  }
  // Line ends are found natively; only the quotes between them are counted in JS, a word at
  // a time (~3x the byte loop on bench exports, whose JSON bodies hold a quote every few bytes).
  const words = new Uint32Array(b.buffer, 0, b.buffer.byteLength >> 2);
  let from = 0;
  for (let nl = b.indexOf(0x0a); nl !== -1; nl = b.indexOf(0x0a, nl + 1)) {
    odd = (odd + quotesIn(b, words, from, nl)) & 1;
    from = nl + 1;
    if (odd === 0) ends.push(nl);
  }
  return { ends, odd: (odd + quotesIn(b, words, from, b.length)) & 1 };
}

/** Counts the rows in an export as its bytes pass (exportRowEnds). Feed it data rows only. */
export class ExportRowCounter {
  #lines = 0;
  /** CSV: the parity of the quotes since the last row end (1 = inside a cell). */
  #odd = 0;
  readonly #csv: boolean;
  constructor(format: ExportFormat) {
    this.#csv = format === 'csv';
  }

  get rows(): number {
    return this.#lines;
  }

  feed(chunk: Uint8Array): void {
    const r = exportRowEnds(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), this.#csv, this.#odd);
    this.#lines += r.ends.length;
    this.#odd = r.odd;
  }
}

/**
 * How long an export may wait for its reader before its query is stopped. A reader that stops
 * (a stalled client) leaves the engine's writer blocked on a full pipe and a chDB session
 * open; nobody else waits on them (inline-params.ts), but they must not be held forever.
 */
export const EXPORT_IDLE_MS = 5 * 60_000;

export class ExportIdleError extends Error {
  override readonly name = 'ExportIdleError';
  readonly code = 'export_idle';
  constructor(ms: number) {
    super(`The export was stopped: its reader took nothing for ${Math.round(ms / 1000)} s.`);
  }
}

/**
 * `inner`, stopped (its `return()` run: the query killed, the pipe drained) when the consumer
 * leaves a chunk untaken for `idleMs`; the consumer's next `next()` then throws ExportIdleError.
 */
async function* stopWhenIdle(inner: AsyncGenerator<Uint8Array>, idleMs: number): AsyncGenerator<Uint8Array> {
  let idle = false;
  let stopped: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const next = await inner.next();
      if (next.done) return;
      const timer = setTimeout(() => {
        idle = true;
        stopped = inner.return(undefined).catch(() => undefined);
      }, idleMs);
      try {
        yield next.value;
      } finally {
        clearTimeout(timer);
      }
      if (idle) {
        await stopped;
        throw new ExportIdleError(idleMs);
      }
    }
  } finally {
    if (!idle) await inner.return(undefined);
  }
}

/**
 * The export's bytes as ClickHouse writes them, streamed; `rows()` is the number of rows
 * passed so far (final once the iteration ends). A reader idle for `idleMs` stops it.
 */
export function exportBytes(
  store: Store,
  filter: ExplorerFilter,
  format: ExportFormat,
  signal?: AbortSignal,
  idleMs: number = EXPORT_IDLE_MS,
): { chunks: AsyncGenerator<Uint8Array>; rows: () => number } {
  const counter = new ExportRowCounter(format);
  const nonce = newSpliceNonce();
  const { query, params, settings } = exportQuery(store, filter, format, nonce);
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of store.streamQuery({ query, params, settings, format: format === 'csv' ? 'CSV' : 'TSVRaw', signal })) {
      counter.feed(chunk);
      yield chunk;
    }
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    // The header is ours, the same on both backends.
    if (format === 'csv') yield new TextEncoder().encode(`${EXPORT_COLUMNS.join(',')}\r\n`);
    // Split bodies come back whole (export-blocks.ts).
    yield* spliceBlocks(counted(), store, format, nonce);
  }
  return { chunks: stopWhenIdle(chunks(), idleMs), rows: () => counter.rows };
}

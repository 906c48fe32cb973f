// Insert one batch of JSONEachRow records, isolating the records ClickHouse rejects.
//
// A data error (the engine cannot parse or convert a value) is a property of the rows, so
// retrying is pointless: the batch is bisected until each rejected record stands alone, and
// those become dead letters while every other record lands — unless the refusal was one
// absurd number (a usage of 1e308 tokens, a negative latency): such a record is repaired once
// (core/src/event-numbers.ts) and inserted, so the call stays visible. Any other error (store down,
// closed, timeout) is thrown so the caller keeps the batch and retries it whole; replays are
// harmless because llm_calls is a ReplacingMergeTree read with FINAL.
import { sanitizeEventNumbers } from '@gatelog/core/event-numbers';
import type { DeadLetter } from './dead-letter.ts';

/**
 * ClickHouse error codes that mean "these rows are bad", by code and by name. chDB reports the
 * numeric code (`clickhouseCode`), @clickhouse/client over HTTP reports `code` (a numeric
 * string) and `type` (the name). See ClickHouse src/Common/ErrorCodes.cpp.
 */
const DATA_ERRORS: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [32, 'ATTEMPT_TO_READ_AFTER_EOF'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [130, 'CANNOT_READ_ARRAY_FROM_TEXT'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [376, 'CANNOT_PARSE_UUID'],
  [377, 'ILLEGAL_SYNTAX_FOR_DATA_TYPE'],
  [441, 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING'],
  [467, 'CANNOT_PARSE_BOOL'],
]);
const DATA_ERROR_NAMES = new Set(DATA_ERRORS.values());

export interface InsertErrorInfo {
  /** True when ClickHouse rejected the data itself (never worth retrying as is). */
  data: boolean;
  code: string;
  type: string;
  message: string;
}

export function classifyInsertError(err: unknown): InsertErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const message = typeof e['message'] === 'string' ? e['message'] : String(err);
  let num: number | undefined;
  if (typeof e['clickhouseCode'] === 'number') num = e['clickhouseCode'];
  else if (typeof e['code'] === 'string' && /^\d+$/.test(e['code'])) num = Number(e['code']);
  const type = typeof e['type'] === 'string' ? e['type'] : num !== undefined ? (DATA_ERRORS.get(num) ?? '') : '';
  const code = num !== undefined ? String(num) : typeof e['code'] === 'string' ? e['code'] : 'UNKNOWN';
  const data = (num !== undefined && DATA_ERRORS.has(num)) || DATA_ERROR_NAMES.has(type);
  return { data, code, type, message: message.slice(0, 2000) };
}

export interface BatchResult {
  inserted: number;
  dead: DeadLetter[];
}

const NL = Buffer.from('\n');

/** The record with its numbers brought within bounds, or null when nothing could change. */
export function repairNumbers(record: Buffer): Buffer | null {
  let e: unknown;
  try {
    e = JSON.parse(record.toString('utf8'));
  } catch {
    return null;
  }
  if (!e || typeof e !== 'object' || Array.isArray(e)) return null;
  return sanitizeEventNumbers(e as Record<string, unknown>) ? Buffer.from(JSON.stringify(e), 'utf8') : null;
}

export function joinRows(records: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) parts.push(r, NL);
  return Buffer.concat(parts);
}

/**
 * joinRows into one buffer kept across inserts. A fresh insert body of many MiB costs the
 * kernel a page fault per 4 KiB every time (~11 µs per 2 KB row measured, as much as the copy
 * itself) and, freed, external-memory pressure that starts V8's full collections; this one is
 * faulted in once and then reused. The returned view is valid until the next join: only for
 * one insert at a time (the insert queue's single write in flight) into a store that is done
 * with the bytes once the insert succeeded — chDB's rawInsert whenever it settles; over HTTP,
 * ClickHouse answers success only after reading the whole body, but after a failure the
 * client may still hold (and be sending) it, so a failed insert's buffer is `forget`-ten.
 */
export class RowJoiner {
  #buf = Buffer.alloc(0);

  /** The last body may still be in use (its insert failed): the next join writes a new buffer. */
  forget(): void {
    this.#buf = Buffer.alloc(0);
  }

  join(records: readonly Buffer[]): Buffer {
    let total = 0;
    for (const r of records) total += r.length + 1;
    if (this.#buf.length < total) this.#buf = Buffer.allocUnsafeSlow(Math.max(total, Math.floor(this.#buf.length * 1.5)));
    let at = 0;
    for (const r of records) {
      at += r.copy(this.#buf, at);
      this.#buf[at++] = 0x0a;
    }
    return this.#buf.subarray(0, total);
  }
}

/**
 * Insert `records`; throws only on a non-data error (then nothing about the batch is known
 * and the caller retries it whole). `onError` sees every failed insert, for metrics.
 */
export async function insertIsolating(
  records: readonly Buffer[],
  insert: (rows: Buffer, range: { from: number; to: number }) => Promise<void>,
  onError: (info: InsertErrorInfo) => void = () => {},
  /** How a group of rows becomes an insert body (joinRows by default). */
  join: (records: readonly Buffer[]) => Buffer = joinRows,
): Promise<BatchResult> {
  const result: BatchResult = { inserted: 0, dead: [] };
  // `from`/`to` index `records`, so a caller can derive a deterministic per-part dedup token.
  const run = async (part: readonly Buffer[], from: number): Promise<void> => {
    if (part.length === 0) return;
    try {
      await insert(join(part), { from, to: from + part.length });
      result.inserted += part.length;
      return;
    } catch (err) {
      const info = classifyInsertError(err);
      onError(info);
      if (!info.data) throw err;
      if (part.length === 1) {
        const repaired = repairNumbers(part[0]!);
        if (repaired) {
          try {
            // Same range, so the same dedup token: nothing of this record landed before.
            await insert(join([repaired]), { from, to: from + 1 });
            result.inserted += 1;
            return;
          } catch (again) {
            const i2 = classifyInsertError(again);
            onError(i2);
            if (!i2.data) throw again;
          }
        }
        result.dead.push({ record: part[0]!, reason: { code: info.code, type: info.type, message: info.message } });
        return;
      }
    }
    const mid = part.length >> 1;
    await run(part.slice(0, mid), from);
    await run(part.slice(mid), from + mid);
  };
  await run(records, 0);
  return result;
}

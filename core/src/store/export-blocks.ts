// Exports with split bodies put back whole (blocks.ts), without giving up the streamed export.
//
// The export's bytes are written by ClickHouse (export-queries.ts). For a call whose request
// body was split, the SQL writes a token in place of the body cell instead: a per-export random
// nonce, the skeleton and its parts (base64, so neither CSV quoting nor JSON escaping touches
// them), between \x01 bytes. `spliceBlocks` finds the tokens as the bytes pass, loads the blocks
// of all tokens in a chunk in one batch (a bounded LRU across the export: a session's calls
// share most blocks), and writes the whole body as the cell the format expects. Calls without
// parts are not looked at: the rest of the stream passes through as ClickHouse wrote it.
import { randomBytes } from 'node:crypto';
import type { Store } from './client.ts';
import { BlockCache, loadBlocks, partsOf, reconstruct } from './blocks.ts';

export type SpliceFormat = 'csv' | 'jsonl';

/** A fresh token marker for one export (hex: safe as a literal in our own SQL). */
export const newSpliceNonce = (): string => randomBytes(12).toString('hex');

/**
 * The request_body cell of an export: `plain` (the format's usual cell expression) for a whole
 * body, else the token. JSONL lines are built in SQL, so the token brings its own quotes there;
 * ClickHouse's CSV writer quotes it.
 */
export function requestBodyCellSql(plain: string, nonce: string, format: SpliceFormat): string {
  const token = `concat(char(1), '${nonce}', 'b', base64Encode(request_body), char(2), base64Encode(toJSONString(request_parts)), char(1))`;
  return `if(empty(request_parts), ${plain}, ${quoted(token, format)})`;
}

/** The attempt_io cell: `plain` unless an attempt's upstream request body was split. */
export function attemptIoCellSql(plain: string, nonce: string, format: SpliceFormat): string {
  const token = `concat(char(1), '${nonce}', 'a', base64Encode(toJSONString(attempt_io)), char(1))`;
  return `if(arrayExists(a -> notEmpty(a.request_parts), attempt_io), ${quoted(token, format)}, ${plain})`;
}

const quoted = (token: string, format: SpliceFormat): string => (format === 'jsonl' ? `concat('"', ${token}, '"')` : token);

const FORMULA = new Set(['=', '+', '-', '@', '\t', '\r']);

function cell(body: string, format: SpliceFormat, json = false): string {
  if (format === 'jsonl') return json ? body : JSON.stringify(body);
  // The same formula neutralization as export-queries.ts neutralizedSql.
  const text = FORMULA.has(body.charAt(0)) ? `'${body}` : body;
  return `"${text.replaceAll('"', '""')}"`;
}

const END = Buffer.from('\x01"', 'latin1');

function restoreAttempts(attempts: Record<string, unknown>[], blocks: ReadonlyMap<string, string>): Record<string, unknown>[] {
  for (const a of attempts) {
    const parts = partsOf(a['request_parts']);
    if (parts.length === 0) continue;
    a['request_body'] = reconstruct(String(a['request_body'] ?? ''), parts, blocks);
    a['request_parts'] = [];
  }
  return attempts;
}

/** `chunks` with every body token replaced by the whole body's cell. */
export async function* spliceBlocks(
  chunks: AsyncIterable<Uint8Array>,
  store: Pick<Store, 'client' | 'reader' | 'database'>,
  format: SpliceFormat,
  nonce: string,
): AsyncGenerator<Uint8Array> {
  const start = Buffer.from(`"\x01${nonce}`, 'latin1');
  const cache = new BlockCache(32 << 20);
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const tokens: { from: number; to: number; skeleton: string; parts: ReturnType<typeof partsOf>; attempts?: Record<string, unknown>[] }[] = [];
    // Bytes from `keep` on may hold a token (or its marker) not complete yet.
    let keep = Math.max(0, buf.length - (start.length - 1));
    for (let i = buf.indexOf(start); i !== -1; ) {
      const e = buf.indexOf(END, i + start.length);
      if (e === -1) {
        keep = i;
        break;
      }
      const payload = buf.toString('latin1', i + start.length + 1, e);
      if (buf[i + start.length] === 0x61 /* a: attempt_io */) {
        const attempts = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Record<string, unknown>[];
        tokens.push({ from: i, to: e + END.length, skeleton: '', parts: attempts.flatMap((a) => partsOf(a['request_parts'])), attempts });
      } else {
        const [skel = '', parts = ''] = payload.split('\x02');
        tokens.push({ from: i, to: e + END.length, skeleton: Buffer.from(skel, 'base64').toString('utf8'), parts: partsOf(JSON.parse(Buffer.from(parts, 'base64').toString('utf8'))) });
      }
      i = buf.indexOf(start, e + END.length);
      keep = Math.max(keep, e + END.length);
    }
    if (tokens.length === 0) {
      if (keep > 0) yield buf.subarray(0, keep);
      carry = buf.subarray(keep);
      continue;
    }
    const blocks = await loadBlocks(store, tokens.flatMap((t) => t.parts.map((p) => p.hash)), cache);
    const out: Buffer[] = [];
    let pos = 0;
    for (const t of tokens) {
      const text = t.attempts ? JSON.stringify(restoreAttempts(t.attempts, blocks)) : reconstruct(t.skeleton, t.parts, blocks);
      out.push(buf.subarray(pos, t.from), Buffer.from(cell(text, format, t.attempts !== undefined), 'utf8'));
      pos = t.to;
    }
    out.push(buf.subarray(pos, keep));
    carry = buf.subarray(keep);
    yield Buffer.concat(out);
  }
  if (carry.length > 0) yield carry;
}

// Content-addressed body blocks: long conversations stored whole, once.
//
// Coding agents resend the whole growing conversation on every turn, so call N's request body
// repeats calls 1…N-1. Ingest splits a large JSON body into a skeleton (the body with some
// values cut out) plus blocks (the cut-out bytes, keyed by the sha256 of their UTF-8 bytes,
// stored once in llm_blocks); `request_parts` records where each block is spliced back:
// `at` is a UTF-8 byte offset in the skeleton. Readers put the body back byte for byte.
//
// The split is a linear scan of the JSON text, never a parse and re-serialisation, so the
// reconstructed bytes are exactly the bytes received whatever their whitespace or escapes.
// What becomes a block (see `visit`): a value of BLOCK_MIN_BYTES or more that is a string, or
// a container none of whose children is that large; a container with a large child is opened
// instead (its structure stays in the skeleton). Inside an opened array, consecutive small
// elements are grouped from the array's start into runs of at least BLOCK_MIN_BYTES: an
// appended conversation yields the same runs again, so they are shared too, and a marker that
// moves to the last message (Anthropic's cache_control) only changes the unfinished last run,
// which stays in the skeleton. Within one top-level value the bytes between two cuts join the
// cut after them, so the skeleton stays small however many messages there are. Only bodies of SPLIT_MIN_BYTES or more are split: ordinary
// calls keep their whole body inline, where the text index finds it.
import { createHash } from 'node:crypto';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { Malformed, Scan } from '../json/byte-scan.ts';
import type { Edit } from '../json/top-level.ts';

export const SPLIT_MIN_BYTES = 32 * 1024;
export const BLOCK_MIN_BYTES = 1024;
/** Containers deeper than this are not opened (bounds the scan to a few passes over the text). */
const MAX_DEPTH = 6;

export interface BodyPart {
  /** UTF-8 byte offset in the skeleton where the block's bytes go. */
  at: number;
  /** sha256 (hex) of the block's UTF-8 bytes. */
  hash: string;
}
export interface Block {
  hash: string;
  body: string;
  bytes: number;
}
/** A block as splitBodyBytes cuts it: a view of the body's bytes, and its hash. */
export interface BlockBytes {
  hash: string;
  data: Buffer;
}
export interface SplitBody {
  skeleton: string;
  parts: BodyPart[];
  /** One entry per distinct hash. */
  blocks: Block[];
}
export interface SplitOptions {
  minBodyBytes?: number;
  minBlockBytes?: number;
}

const LBRACE = 0x7b, LBRACKET = 0x5b;

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * The body as skeleton + parts + blocks, or null when it stays whole: under the size
 * threshold, not a JSON object, malformed, or nothing large enough to cut out.
 */
export function splitBody(text: string, o: SplitOptions = {}): SplitBody | null {
  const minBody = o.minBodyBytes ?? SPLIT_MIN_BYTES;
  if (text.length * 3 < minBody) return null; // cheap: a UTF-16 unit is at most 3 UTF-8 bytes
  const s = splitBodyBytes(Buffer.from(text, 'utf8'), o);
  return s && { skeleton: s.skeleton.toString('utf8'), parts: s.parts, blocks: s.blocks.map((b) => ({ hash: b.hash, body: b.data.toString('utf8'), bytes: b.data.length })) };
}

/** The split of a body's UTF-8 bytes (splitBody), all of it as bytes: never one string of the whole body. */
export interface SplitBytes {
  skeleton: Buffer;
  parts: BodyPart[];
  /** One entry per distinct hash. */
  blocks: BlockBytes[];
  /** What was cut out, as [start, end) offsets in the body, in order (one per part). */
  cuts: [number, number][];
}

/** splitBody of a body's UTF-8 bytes (`quotes`: where its unescaped quotes are, when known: Scan). */
export function splitBodyBytes(buf: Buffer, o: SplitOptions = {}, quotes?: readonly number[]): SplitBytes | null {
  const minBody = o.minBodyBytes ?? SPLIT_MIN_BYTES;
  const minBlock = o.minBlockBytes ?? BLOCK_MIN_BYTES;
  if (buf.length < minBody) return null;
  const s = new Scan(buf, quotes);
  const cuts: [number, number][] = [];
  const visit = (start: number, end: number, depth: number): void => {
    if (end - start < minBlock) return;
    const c = buf[start];
    if ((c !== LBRACE && c !== LBRACKET) || depth >= MAX_DEPTH) {
      cuts.push([start, end]);
      return;
    }
    const { spans } = s.children(start);
    if (c === LBRACE) {
      if (depth > 0 && !spans.some(([a, z]) => z - a >= minBlock)) cuts.push([start, end]);
      else if (depth > 0) for (const [a, z] of spans) visit(a, z, depth + 1);
      else {
        for (const [a, z] of spans) {
          const first = cuts.length;
          visit(a, z, depth + 1);
          // Within one top-level value, the bytes between two cuts (an opened message's wrapper,
          // small messages short of a run) join the cut that follows them: they never change
          // once followed by more conversation, so the skeleton keeps only the value's head and
          // tail (where a moving cache marker sits), not a wrapper per message.
          for (let i = first + 1; i < cuts.length; i++) cuts[i]![0] = cuts[i - 1]![1];
        }
      }
      return;
    }
    let run = -1;
    for (const [a, z] of spans) {
      if (z - a >= minBlock) {
        run = -1;
        visit(a, z, depth + 1);
      } else {
        if (run < 0) run = a;
        if (z - run >= minBlock) {
          cuts.push([run, z]);
          run = -1;
        }
      }
    }
  };
  try {
    const start = s.ws(0);
    if (buf[start] !== LBRACE) return null;
    const end = s.end(start);
    if (s.ws(end) !== buf.length) return null;
    visit(start, end, 0);
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
  if (cuts.length === 0) return null;
  const pieces: Buffer[] = [];
  const parts: BodyPart[] = [];
  const blocks = new Map<string, BlockBytes>();
  let cursor = 0, at = 0;
  for (const [a, z] of cuts) {
    pieces.push(buf.subarray(cursor, a));
    at += a - cursor;
    const bytes = buf.subarray(a, z);
    const hash = sha256Hex(bytes);
    parts.push({ at, hash });
    if (!blocks.has(hash)) blocks.set(hash, { hash, data: bytes });
    cursor = z;
  }
  pieces.push(buf.subarray(cursor));
  return { skeleton: Buffer.concat(pieces), parts, blocks: [...blocks.values()], cuts };
}

/**
 * splitBodyBytes of a body `split` came from, with top-level `edits` made (byte offsets, in
 * order, as topLevelByteEdits finds them: an alias's model, a stream's stream_options), without
 * scanning or hashing the edited body: a split cuts within each top-level value on its own, so
 * values no edit touches are cut as before, only moved. Null where that does not hold: an edit
 * reaching into a cut, or a value it writes long enough to be cut itself (the caller splits the
 * edited body then).
 */
export function editedSplit(split: SplitBytes, edits: readonly Edit[], o: SplitOptions = {}): SplitBytes | null {
  const minBlock = o.minBlockBytes ?? BLOCK_MIN_BYTES;
  const { cuts } = split;
  for (const e of edits) {
    if (Buffer.byteLength(e.insert) >= minBlock) return null;
    for (const [a, z] of cuts) if (e.from < z && e.to > a) return null;
  }
  // Offsets in the body as offsets in the skeleton: less what was cut before them.
  const inSkeleton = (x: number): number => {
    let cut = 0;
    for (const [a, z] of cuts) if (z <= x) cut += z - a;
    return x - cut;
  };
  const pieces: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    const from = inSkeleton(e.from);
    pieces.push(split.skeleton.subarray(at, from), Buffer.from(e.insert));
    at = e.to === e.from ? from : inSkeleton(e.to);
  }
  pieces.push(split.skeleton.subarray(at));
  // How far an offset in the body moves: by what each edit ending at or before it adds.
  const moved = (x: number): number => {
    let by = 0;
    for (const e of edits) if (e.to <= x) by += Buffer.byteLength(e.insert) - (e.to - e.from);
    return by;
  };
  return {
    skeleton: Buffer.concat(pieces),
    parts: split.parts.map((p, i) => ({ at: p.at + moved(cuts[i]![0]), hash: p.hash })),
    blocks: split.blocks,
    cuts: cuts.map(([a, z]) => [a + moved(a), z + moved(a)]),
  };
}

/** What stands in for a block no longer stored (valid JSON wherever a block was cut out). */
export const missingBlock = (hash: string): string => JSON.stringify(`[gatelog: body block ${hash} is no longer stored]`);

/** The body put back together: each part's block spliced into the skeleton at its byte offset. */
export function reconstruct(skeleton: string, parts: readonly BodyPart[], blocks: ReadonlyMap<string, string>): string {
  if (parts.length === 0) return skeleton;
  const sk = Buffer.from(skeleton, 'utf8');
  const pieces: Buffer[] = [];
  let cursor = 0;
  for (const p of [...parts].sort((x, y) => x.at - y.at)) {
    const at = Math.min(Math.max(p.at, cursor), sk.length);
    pieces.push(sk.subarray(cursor, at), Buffer.from(blocks.get(p.hash) ?? missingBlock(p.hash), 'utf8'));
    cursor = at;
  }
  pieces.push(sk.subarray(cursor));
  return Buffer.concat(pieces).toString('utf8');
}

const HASH = /^[0-9a-f]{64}$/;
/** Hashes per query: the IN list is inlined on the embedded store (read-query.ts), bound over HTTP. */
const LOAD_BATCH = 200;

/** Blocks by hash, in batches; unknown hashes are absent from the result. */
export async function loadBlocks(store: Pick<Store, 'client' | 'reader' | 'database'>, hashes: Iterable<string>, cache?: BlockCache): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const want: string[] = [];
  for (const h of new Set(hashes)) {
    const hit = cache?.get(h);
    if (hit !== undefined) out.set(h, hit);
    else if (HASH.test(h)) want.push(h);
  }
  for (let i = 0; i < want.length; i += LOAD_BATCH) {
    const rs = await readQuery(store, {
      query: `SELECT hash, any(body) AS body FROM ${store.database}.llm_blocks WHERE hash IN {hashes:Array(String)} GROUP BY hash`,
      query_params: { hashes: want.slice(i, i + LOAD_BATCH) },
    });
    for (const r of await rs.json<{ hash: string; body: string }>()) {
      out.set(r.hash, r.body);
      cache?.set(r.hash, r.body);
    }
  }
  return out;
}

/** A bounded LRU of block bodies for readers (a session's calls share most of their blocks). */
export class BlockCache {
  readonly #map = new Map<string, string>();
  #bytes = 0;
  readonly maxBytes: number;
  constructor(maxBytes = 64 << 20) {
    this.maxBytes = maxBytes;
  }
  get(hash: string): string | undefined {
    const v = this.#map.get(hash);
    if (v !== undefined) {
      this.#map.delete(hash);
      this.#map.set(hash, v);
    }
    return v;
  }
  set(hash: string, body: string): void {
    if (body.length > this.maxBytes || this.#map.has(hash)) return;
    this.#map.set(hash, body);
    this.#bytes += body.length;
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= v.length;
    }
  }
  /** Erasure: forget what is no longer stored. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}

type Row = Record<string, unknown>;
const isRow = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

/** request_parts as ClickHouse returns them (named tuples as objects, or as arrays). */
export function partsOf(raw: unknown): BodyPart[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((p: unknown) => (Array.isArray(p) ? { at: Number(p[0]), hash: String(p[1]) } : isRow(p) ? { at: Number(p['at']), hash: String(p['hash']) } : { at: 0, hash: '' }));
}

/** Each object holding a body with parts: the row itself and each element of its attempt_io. */
function holders(row: Row): Row[] {
  const io = row['attempt_io'];
  return [row, ...(Array.isArray(io) ? io.filter(isRow) : [])];
}

/**
 * Rows (as read, before their zod parse) with every split body put back whole in place, the
 * call's request_body and each attempt's, and their request_parts emptied; one batched block
 * load for all of them.
 */
export async function restoreBodies<R>(store: Pick<Store, 'client' | 'reader' | 'database'>, rows: R[], cache?: BlockCache): Promise<R[]> {
  const todo = (rows as unknown[]).filter(isRow).flatMap(holders).filter((h) => Array.isArray(h['request_parts']) && h['request_parts'].length > 0);
  if (todo.length === 0) return rows;
  const blocks = await loadBlocks(store, todo.flatMap((h) => partsOf(h['request_parts']).map((p) => p.hash)), cache);
  for (const h of todo) {
    h['request_body'] = reconstruct(String(h['request_body'] ?? ''), partsOf(h['request_parts']), blocks);
    h['request_parts'] = [];
  }
  return rows;
}

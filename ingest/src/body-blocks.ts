// Ingest's side of body blocks (core/src/store/blocks.ts): in a record long enough to carry a
// large request body, its request body and each attempt's upstream request body are split into
// skeleton + blocks, on the record's bytes (record-split.ts; by parsing and serialising the
// event where that walk is not sure); the blocks are inserted before the rows that name them.
// Records under the threshold are not looked at beyond their length, so the common path stays
// bytes in, bytes out.
//
// Retries and replays: a record's split is deterministic (same bytes, same skeleton), so the
// calls insert keeps its deterministic dedup token; a block insert is idempotent by hash
// (ReplacingMergeTree on hash, newest last_seen kept). Hashes written recently are not written
// again once a keyed lookup confirms they are still stored — up to RECENT_MAX of them, for at
// most RECENT_AGE_MS, so last_seen (which the blocks' retention counts from) is refreshed at
// least that often while a conversation goes on.
import { REQUEST_SET_MIN_BYTES, type Store } from '@gatelog/core';
import { quoteBytes } from '@gatelog/core/json/literal';
import { withTopLevel } from '@gatelog/core/json/top-level';
import { SPLIT_MIN_BYTES, splitBodyBytes, type BlockBytes } from '@gatelog/core/store/blocks';
import { readQuery } from '@gatelog/core/store/read-query';
import { eventTeam } from '@gatelog/core/store/retention';
import { isTexts, splitRecordBytes, type BlockSplit } from './record-split.ts';
import { splitInWorker } from './split-pool.ts';
import { parsedRow } from './stored-rows.ts';

async function storedHashes(store: Pick<Store, 'client' | 'reader' | 'database'>, hashes: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < hashes.length; i += 1000) {
    const rs = await readQuery(store, { query: `SELECT DISTINCT hash FROM ${store.database}.llm_blocks WHERE hash IN {hashes:Array(String)}`, query_params: { hashes: hashes.slice(i, i + 1000) } });
    for (const r of await rs.json<{ hash: string }>()) out.add(r.hash);
  }
  return out;
}

export const RECENT_MAX = 50_000;
export const RECENT_AGE_MS = 10 * 60_000;
const ROW_END = Buffer.from('}\n');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Split the body held at `o.request_body` into `o.request_parts`; true when it was split. */
function splitField(o: Obj, into: Map<string, BlockBytes>, minBody: number): boolean {
  const body = o['request_body'];
  // A UTF-16 unit is at most 3 UTF-8 bytes: a text this short is not encoded to find out.
  if (typeof body !== 'string' || body.length * 3 < minBody) return false;
  const s = splitBodyBytes(Buffer.from(body, 'utf8'), { minBodyBytes: minBody });
  if (!s) return false;
  o['request_body'] = s.skeleton.toString('utf8');
  o['request_parts'] = s.parts.map((p) => ({ at: p.at, hash: p.hash }));
  for (const b of s.blocks) into.set(b.hash, b);
  return true;
}

/**
 * Each attempt's upstream request carried as `request_set` written back as its request_body
 * (core/src/event.ts AttemptIo): the call's request with those top-level fields. One that cannot
 * be (no call request to read it over, after an erasure or a strip) is stored empty, flagged
 * truncated. True when the record had any.
 */
export function expandRequestSets(e: Obj): boolean {
  const io = e['attempt_io'];
  if (!Array.isArray(io)) return false;
  let changed = false;
  for (const a of io) {
    if (!isObj(a) || !('request_set' in a)) continue;
    const set = a['request_set'];
    delete a['request_set'];
    changed = true;
    const base = e['request_body'];
    const text = isTexts(set) && typeof base === 'string' && base !== '' ? withTopLevel(base, set) : null;
    a['request_body'] = text ?? '';
    if (text === null) a['truncated'] = true;
  }
  return changed;
}

/** Records shorter than this are stored as they came (no body to split or write back). */
const parseFrom = (minBody: number): number => Math.min(minBody, REQUEST_SET_MIN_BYTES);

/**
 * The record with its large bodies split, or null when it is stored as it came. The calls of
 * `wholeTeams` (teams with a body retention period of their own: retention.ts wholeBodyTeams)
 * are stored whole, so their own period removes their text. Upstream requests carried as
 * request_set are written back first (expandRequestSets), for every team.
 */
export function splitRecord(record: Buffer, minBody = SPLIT_MIN_BYTES, wholeTeams: readonly string[] = []): BlockSplit | null {
  if (record.length < parseFrom(minBody)) return null;
  const split = splitRecordBytes(record, minBody, wholeTeams);
  return split !== undefined ? split : splitParsed(record, minBody, wholeTeams);
}

/** splitRecord by parsing the event and serialising it again: where the byte walk (record-split.ts) is not sure. */
export function splitParsed(record: Buffer, minBody = SPLIT_MIN_BYTES, wholeTeams: readonly string[] = []): BlockSplit | null {
  const e = parsedRow(record);
  if (!e) return null;
  let changed = expandRequestSets(e);
  const blocks = new Map<string, BlockBytes>();
  if (record.length >= minBody && !(wholeTeams.length > 0 && wholeTeams.includes(eventTeam(e)))) {
    if (splitField(e, blocks, minBody)) changed = true;
    const io = e['attempt_io'];
    if (Array.isArray(io)) for (const a of io) if (isObj(a) && splitField(a, blocks, minBody)) changed = true;
  }
  return changed ? { record: Buffer.from(JSON.stringify(e), 'utf8'), blocks: [...blocks.values()] } : null;
}

/** Splits the records of parts (once per part) and writes their blocks ahead of the rows. */
export class BlockWriter {
  readonly #pending = new WeakMap<object, BlockBytes[]>();
  readonly #recent = new Map<string, number>();
  readonly #minBody: number;
  readonly #wholeTeams: readonly string[];
  readonly #now: () => number;

  /** `wholeTeams`: teams whose calls are never split (splitRecord). */
  constructor(o: { minBodyBytes?: number; wholeTeams?: readonly string[]; now?: () => number } = {}) {
    this.#minBody = o.minBodyBytes ?? SPLIT_MIN_BYTES;
    this.#wholeTeams = o.wholeTeams ?? [];
    this.#now = o.now ?? Date.now;
  }

  /**
   * Split the large records of `parts` in a worker thread (idempotent per part): a large
   * event's split stays off the thread that, embedded, relays calls. A worker that fails leaves
   * the parts to `split` on this thread.
   */
  async prepare(parts: readonly { records: Buffer[] }[]): Promise<void> {
    const from = parseFrom(this.#minBody);
    const todo = parts.filter((p) => !this.#pending.has(p) && p.records.some((r) => r.length >= from));
    if (todo.length === 0) return;
    // The records as they are now: the answers follow this order, whatever happens meanwhile.
    const before = todo.map((p) => [...p.records]);
    let splits: (BlockSplit | null)[];
    try {
      splits = await splitInWorker(before.flatMap((records) => records.filter((r) => r.length >= from)), this.#minBody, this.#wholeTeams);
    } catch {
      return; // split() below does it here.
    }
    let k = 0;
    todo.forEach((part, n) => {
      const records = before[n]!;
      const blocks: BlockBytes[] = [];
      for (let i = 0; i < records.length; i++) {
        if (records[i]!.length < from) continue;
        const s = splits[k++];
        if (!s) continue;
        records[i] = s.record;
        blocks.push(...s.blocks);
      }
      if (this.#pending.has(part)) return;
      part.records.splice(0, part.records.length, ...records);
      this.#pending.set(part, blocks);
    });
  }

  /** Replace each large record of `part` by its split form (idempotent per part). */
  split(part: { records: Buffer[] }): BlockBytes[] {
    const known = this.#pending.get(part);
    if (known) return known;
    const blocks: BlockBytes[] = [];
    for (let i = 0; i < part.records.length; i++) {
      const s = splitRecord(part.records[i]!, this.#minBody, this.#wholeTeams);
      if (!s) continue;
      part.records[i] = s.record;
      blocks.push(...s.blocks);
    }
    this.#pending.set(part, blocks);
    return blocks;
  }

  /** Insert the parts' blocks not written recently; throws (the caller retries) like any insert. */
  async write(store: Pick<Store, 'insertRaw' | 'client' | 'reader' | 'database'>, parts: readonly { records: Buffer[] }[], settings?: Record<string, string | number>): Promise<number> {
    await this.prepare(parts);
    const now = this.#now();
    const rows = new Map<string, BlockBytes>();
    const recent = new Map<string, BlockBytes>();
    for (const p of parts) {
      for (const b of this.split(p)) {
        const at = this.#recent.get(b.hash);
        (at === undefined || now - at > RECENT_AGE_MS ? rows : recent).set(b.hash, b);
      }
    }
    // Written recently is not proof of still stored (an erasure may have deleted it since):
    // one keyed lookup tells, and only missing blocks travel again.
    if (recent.size > 0) {
      const stored = await storedHashes(store, [...recent.keys()]);
      for (const [h, b] of recent) if (!stored.has(h)) rows.set(h, b);
    }
    if (rows.size === 0) return 0;
    const seen = Math.floor(now / 1000);
    // Each row's body quoted from its bytes: a block is never made a string here.
    const lines = [...rows.values()].flatMap((b) => [Buffer.from(`{"hash":"${b.hash}","bytes":${b.data.length},"last_seen":${seen},"body":`), quoteBytes(b.data), ROW_END]);
    await store.insertRaw('llm_blocks', Buffer.concat(lines), { ...settings, insert_deduplicate: 0 });
    for (const h of rows.keys()) {
      this.#recent.delete(h);
      this.#recent.set(h, now);
    }
    for (const k of this.#recent.keys()) {
      if (this.#recent.size <= RECENT_MAX) break;
      this.#recent.delete(k);
    }
    return rows.size;
  }
}

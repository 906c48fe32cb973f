// splitRecord (body-blocks.ts) on the record's bytes: the event is never decoded, parsed or
// serialised again whole. Its top level and each attempt are walked with the byte scanner, only
// the request bodies are unescaped (to bytes), split and quoted back, and the record is written
// as its own bytes with those few spans replaced. A 64 KB conversation's event took ~1.7 ms the
// parse way (decoding the record into a V8 large-object string, JSON.parse, JSON.stringify).
//
// The same answer as the parse path, read as JSON (ingest/src/record-split.test.ts compares the
// two): where this walk cannot be sure of that — a key written with an escape, a key it reads
// given twice, a request_set name beyond ASCII, bytes that are not UTF-8, a body with a lone
// surrogate escape, anything the scanner finds malformed — it answers undefined and the parse
// path decides. Like ClickHouse, which
// judges every row it is given, it does not check what it does not read (numbers, other strings):
// records reach it validated (Kafka) or from this build's own encoder (the local log).
import { isUtf8 } from 'node:buffer';
import { Malformed, Scan, type Member } from '@gatelog/core/json/byte-scan';
import { quoteBytes, unquoteBytes } from '@gatelog/core/json/literal';
import { splicedBytes, topLevelByteEdits, type Edit as TopLevelEdit } from '@gatelog/core/json/top-level';
import { editedSplit, splitBodyBytes, type BlockBytes, type BodyPart, type SplitBytes } from '@gatelog/core/store/blocks';

const QUOTE = 0x22, LBRACE = 0x7b, LBRACKET = 0x5b;

/** A record with its bodies split (splitRecord's answer), and the blocks cut out of them. */
export interface BlockSplit {
  record: Buffer;
  blocks: BlockBytes[];
}

/** Thrown where the byte walk leaves the record to the parse path. */
class Unsure extends Error {}

interface Edit {
  from: number;
  to: number;
  insert: Buffer;
}

const TOP = ['request_body', 'request_parts', 'attempt_io', 'team'];
const ATTEMPT = ['request_body', 'request_parts', 'request_set', 'truncated'];

/**
 * splitRecord's answer from the bytes: the split record, null when it is stored as it came, or
 * undefined when the parse path must decide (see the top of this file).
 */
export function splitRecordBytes(record: Buffer, minBody: number, wholeTeams: readonly string[]): BlockSplit | null | undefined {
  if (!isUtf8(record)) return undefined;
  try {
    return new RecordWalk(record, minBody, wholeTeams).split();
  } catch (err) {
    if (err instanceof Malformed || err instanceof Unsure) return undefined;
    throw err;
  }
}

/** The members named in `names`, by name; Unsure on an escaped key or a named key given twice. */
function named(members: readonly Member[], names: readonly string[]): Map<string, Member> {
  const out = new Map<string, Member>();
  for (const m of members) {
    if (m.key.includes('\\')) throw new Unsure();
    if (!names.includes(m.key)) continue;
    if (out.has(m.key)) throw new Unsure();
    out.set(m.key, m);
  }
  return out;
}

/** A request_set as the event schema has it: field names to JSON texts. */
export const isTexts = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

const partsJson = (parts: readonly BodyPart[]): Buffer => Buffer.from(JSON.stringify(parts.map((p) => ({ at: p.at, hash: p.hash }))));

class RecordWalk {
  readonly #b: Buffer;
  readonly #s: Scan;
  readonly #minBody: number;
  readonly #wholeTeams: readonly string[];
  readonly #edits: Edit[] = [];
  readonly #blocks = new Map<string, BlockBytes>();
  #changed = false;
  #body: Member | undefined;
  #base: Buffer | null | undefined;
  /** Where the call's body has unescaped quotes (unquoteBytes), for its split's scan. */
  readonly #baseQuotes: number[] = [];
  /** The call's own body split (null: nothing to cut), once it was. */
  #baseSplit: SplitBytes | null = null;

  constructor(record: Buffer, minBody: number, wholeTeams: readonly string[]) {
    this.#b = record;
    this.#s = new Scan(record);
    this.#minBody = minBody;
    this.#wholeTeams = wholeTeams;
  }

  split(): BlockSplit | null | undefined {
    const b = this.#b, s = this.#s;
    const root = s.ws(0);
    if (b[root] !== LBRACE) return undefined;
    const { members, close } = s.members(root);
    if (s.ws(close + 1) !== b.length) return undefined;
    const top = named(members, TOP);
    this.#body = top.get('request_body');
    const team = top.get('team');
    const teamName = this.#wholeTeams.length > 0 && team && b[team.start] === QUOTE ? this.#json(team) : '';
    const splits = b.length >= this.#minBody && !this.#wholeTeams.includes(typeof teamName === 'string' ? teamName : '');
    if (splits && this.#long(this.#body)) {
      const base = this.#baseBytes();
      if (base) this.#baseSplit = this.#splitInto(base, this.#baseQuotes, this.#body!, top.get('request_parts'), close, members.length);
    }
    const io = top.get('attempt_io');
    if (io && b[io.start] === LBRACKET) {
      for (const [a] of s.children(io.start).spans) if (b[a] === LBRACE) this.#attempt(a, splits);
    }
    if (!this.#changed) return null;
    return { record: this.#applied(), blocks: [...this.#blocks.values()] };
  }

  /** One attempt: its request_set written back over the call's body (for every team), then split. */
  #attempt(at: number, splits: boolean): void {
    const b = this.#b;
    const { members, close } = this.#s.members(at);
    const f = named(members, ATTEMPT);
    let count = members.length;
    const set = f.get('request_set');
    const own = f.get('request_body');
    if (set) {
      this.#remove(members, set);
      count--;
      this.#changed = true;
      const fields = this.#json(set);
      const base = this.#baseBytes();
      let edits: TopLevelEdit[] | null = null;
      if (isTexts(fields) && base !== null && base.length > 0) {
        const e = topLevelByteEdits(base, fields);
        if (e === undefined) throw new Unsure();
        edits = e;
      }
      if (base === null || edits === null) {
        count = this.#put(f.get('truncated'), close, count, 'truncated', Buffer.from('true'));
        this.#put(own, close, count, 'request_body', Buffer.from('""'));
        return;
      }
      // The call's split, edited, where it tells (blocks.ts editedSplit): the upstream request
      // is the call's with an alias's model or a stream option set, so scanning and hashing it
      // again would find the same blocks.
      let body: Buffer | null = null;
      let split: SplitBytes | null = null;
      if (splits) {
        const grows = edits.reduce((n, e) => n + Buffer.byteLength(e.insert) - (e.to - e.from), 0);
        if (this.#baseSplit && base.length + grows >= this.#minBody) split = editedSplit(this.#baseSplit, edits);
        split ??= this.#splitOf((body = splicedBytes(base, edits)));
      }
      count = this.#put(own, close, count, 'request_body', quoteBytes(split ? split.skeleton : (body ?? splicedBytes(base, edits))));
      if (split) this.#keep(split, f.get('request_parts'), close, count);
      return;
    }
    if (!splits || !this.#long(own)) return;
    const quotes: number[] = [];
    const text = unquoteBytes(b, own!.start, own!.end, quotes);
    if (text === null) throw new Unsure();
    this.#splitInto(text, quotes, own!, f.get('request_parts'), close, count);
  }

  /** Split `text` (the value of `m`; `quotes` as unquoteBytes found them) and put skeleton and parts in its object; the split. */
  #splitInto(text: Buffer, quotes: readonly number[], m: Member, parts: Member | undefined, close: number, count: number): SplitBytes | null {
    const split = this.#splitOf(text, quotes);
    if (!split) return null;
    this.#edits.push({ from: m.start, to: m.end, insert: quoteBytes(split.skeleton) });
    this.#keep(split, parts, close, count);
    this.#changed = true;
    return split;
  }

  #splitOf(text: Buffer, quotes?: readonly number[]): SplitBytes | null {
    return splitBodyBytes(text, { minBodyBytes: this.#minBody }, quotes);
  }

  #keep(split: SplitBytes, parts: Member | undefined, close: number, count: number): void {
    this.#put(parts, close, count, 'request_parts', partsJson(split.parts));
    for (const block of split.blocks) this.#blocks.set(block.hash, block);
  }

  /** The call's request_body as bytes (decoded once); null when it is not a string. */
  #baseBytes(): Buffer | null {
    if (this.#base === undefined) {
      const m = this.#body;
      this.#base = this.#isText(m) ? unquoteBytes(this.#b, m!.start, m!.end, this.#baseQuotes) : null;
      if (this.#isText(m) && this.#base === null) throw new Unsure();
    }
    return this.#base;
  }

  /** A string long enough to split: a literal's bytes bound its text's, so a shorter one is not decoded. */
  #long(m: Member | undefined): boolean {
    return this.#isText(m) && m!.end - m!.start - 2 >= this.#minBody;
  }

  #isText(m: Member | undefined): boolean {
    return m !== undefined && this.#b[m.start] === QUOTE;
  }

  /** A short value parsed (a team name, a request_set). */
  #json(m: Member): unknown {
    try {
      return JSON.parse(this.#b.toString('utf8', m.start, m.end));
    } catch {
      throw new Unsure();
    }
  }

  /** Set member `name` (`m` when the object has it) to `value`; returns the object's member count. */
  #put(m: Member | undefined, close: number, count: number, name: string, value: Buffer): number {
    if (m) {
      this.#edits.push({ from: m.start, to: m.end, insert: value });
      return count;
    }
    this.#edits.push({ from: close, to: close, insert: Buffer.concat([Buffer.from(`${count > 0 ? ',' : ''}"${name}":`), value]) });
    return count + 1;
  }

  /** Remove member `m` of `members` with the comma that joins it to the others. */
  #remove(members: readonly Member[], m: Member): void {
    const i = members.indexOf(m);
    const next = members[i + 1], prev = members[i - 1];
    const [from, to] = next ? [m.keyAt, next.keyAt] : prev ? [prev.end, m.end] : [m.keyAt, m.end];
    this.#edits.push({ from, to, insert: Buffer.alloc(0) });
  }

  #applied(): Buffer {
    const edits = this.#edits.sort((x, y) => x.from - y.from);
    const out: Buffer[] = [];
    let at = 0;
    for (const e of edits) {
      if (e.from < at) throw new Unsure();
      out.push(this.#b.subarray(at, e.from), e.insert);
      at = e.to;
    }
    out.push(this.#b.subarray(at));
    return Buffer.concat(out);
  }
}

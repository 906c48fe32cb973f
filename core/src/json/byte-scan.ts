// A scan of JSON as UTF-8 bytes, never decoded: where each value ends, an array's elements and an
// object's members. Body blocks (core/src/store/blocks.ts), long requests in pieces (pieces.ts)
// and routing's top-level edits on them (top-level.ts) walk bytes with it; JSON.parse, where it
// runs on what it finds, checks what is inside.

const QUOTE = 0x22, BACKSLASH = 0x5c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, COMMA = 0x2c, COLON = 0x3a;
const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Thrown where the bytes are not JSON the scan can walk. */
export class Malformed extends Error {}

/** A cursor over JSON bytes: enough of a scanner to find where each value ends. */
export class Scan {
  readonly b: Buffer;
  readonly #quotes: readonly number[] | undefined;
  /**
   * `quotes`, when given: every offset of an unescaped quote in `b`, in order (unquoteBytes finds
   * them while unescaping a body): string ends are looked up there instead of searched for, as a
   * body's text escapes quotes every few dozen bytes and each search stops at every one.
   */
  constructor(b: Buffer, quotes?: readonly number[]) {
    this.b = b;
    this.#quotes = quotes;
  }

  ws(i: number): number {
    while (isSpace(this.b[i])) i++;
    return i;
  }

  /** End (exclusive) of the value starting at `i` (no leading whitespace). */
  end(i: number): number {
    const b = this.b;
    const c = b[i];
    if (c === QUOTE) return this.stringEnd(i);
    if (c === LBRACE || c === LBRACKET) {
      let depth = 0;
      for (let j = i; j < b.length; j++) {
        const x = b[j];
        if (x === QUOTE) j = this.stringEnd(j) - 1;
        else if (x === LBRACE || x === LBRACKET) depth++;
        else if (x === RBRACE || x === RBRACKET) {
          if (--depth === 0) return j + 1;
        }
      }
      throw new Malformed();
    }
    let j = i;
    while (j < b.length && !isSpace(b[j]) && b[j] !== COMMA && b[j] !== RBRACE && b[j] !== RBRACKET && b[j] !== COLON) j++;
    if (j === i) throw new Malformed();
    return j;
  }

  /** Bodies are mostly string content: the next quote is found natively, then checked for escapes. */
  stringEnd(i: number): number {
    const b = this.b;
    if (this.#quotes) return this.#indexedEnd(i);
    for (let j = i + 1; ; ) {
      const q = b.indexOf(QUOTE, j);
      if (q === -1) throw new Malformed();
      let k = q - 1;
      while (k > i && b[k] === BACKSLASH) k--;
      if ((q - 1 - k) % 2 === 0) return q + 1; // an even run of backslashes escapes nothing
      j = q + 1;
    }
  }

  /** stringEnd from the quote index: the first unescaped quote after `i`. */
  #indexedEnd(i: number): number {
    const q = this.#quotes!;
    let lo = 0, hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (q[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    if (lo === q.length || this.b[q[lo]!] !== QUOTE) throw new Malformed();
    return q[lo]! + 1;
  }

  /**
   * An object's members, `i` at its opening brace: each key's raw bytes read as Latin-1 (an
   * escape in it stays as written, so a caller matching names must not trust a key holding a
   * backslash), where the key starts and its value's span; `close` is the closing brace.
   */
  members(i: number): { members: Member[]; close: number } {
    const b = this.b;
    const members: Member[] = [];
    if (b[i] !== LBRACE) throw new Malformed();
    let j = this.ws(i + 1);
    if (b[j] === RBRACE) return { members, close: j };
    for (;;) {
      if (b[j] !== QUOTE) throw new Malformed();
      const keyAt = j;
      const keyEnd = this.stringEnd(j);
      j = this.ws(keyEnd);
      if (b[j] !== COLON) throw new Malformed();
      j = this.ws(j + 1);
      const end = this.end(j);
      members.push({ key: b.toString('latin1', keyAt + 1, keyEnd - 1), keyAt, start: j, end });
      j = this.ws(end);
      if (b[j] === COMMA) j = this.ws(j + 1);
      else if (b[j] === RBRACE) return { members, close: j };
      else throw new Malformed();
    }
  }

  /** Spans of an array's elements or an object's member values; `i` at the opening bracket. */
  children(i: number): { spans: [number, number][]; close: number } {
    const b = this.b;
    const object = b[i] === LBRACE;
    const spans: [number, number][] = [];
    let j = this.ws(i + 1);
    if (b[j] === (object ? RBRACE : RBRACKET)) return { spans, close: j };
    for (;;) {
      if (object) {
        if (b[j] !== QUOTE) throw new Malformed();
        j = this.ws(this.stringEnd(j));
        if (b[j] !== COLON) throw new Malformed();
        j = this.ws(j + 1);
      }
      const e = this.end(j);
      spans.push([j, e]);
      j = this.ws(e);
      if (b[j] === COMMA) j = this.ws(j + 1);
      else if (b[j] === (object ? RBRACE : RBRACKET)) return { spans, close: j };
      else throw new Malformed();
    }
  }
}

/** One member of an object (Scan.members). */
export interface Member {
  /** The key's bytes between its quotes, as Latin-1. */
  key: string;
  /** Offset of the key's opening quote. */
  keyAt: number;
  /** The value's span. */
  start: number;
  end: number;
}

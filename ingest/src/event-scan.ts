// The Kafka worker's fast path for validating an event (kafka-validate.ts): one pass over the
// record's bytes that checks it is a JSON object the core schema (core/src/event.ts
// `LlmCallEvent`) accepts, without building the object — no UTF-8 decode of the record, no
// object tree, no zod copy of it. For a ~2 KB event that is a quarter of JSON.parse + zod's CPU
// and almost none of their garbage.
//
// It only ever says "valid" or "not sure": anything outside the plain shape the proxy writes
// (an unknown or repeated key, an escape inside a checked string, a number in a form it does
// not read, any syntax error) is "not sure", and the caller then runs the full JSON.parse + zod
// check, which decides and names the dead-letter code exactly as before. So this path can
// accept less than the schema does, never more. Strings whose content the schema constrains
// (ids, timestamps, enums, bounded lengths) are checked with that field's own zod schema.
import { COUNT, EVENT, STR, type Field, type Kind, type Shape } from './event-shape.ts';

const QUOTE = 0x22;
/** 1 for bytes that may stand in a JSON string as they are (not a control byte, quote or backslash). */
const PLAIN = new Uint8Array(256).map((_, c) => (c >= 0x20 && c !== 0x22 && c !== 0x5c ? 1 : 0));
const BACKSLASH = 0x5c;

/** Thrown (never escapes scanEvent) when the scan is not sure. */
const NOT_SURE = Symbol('not sure');

class Scanner {
  b: Buffer = Buffer.alloc(0);
  i = 0;
  /** Whether the last string scanned held an escape. */
  escaped = false;
  /** The last integer read. */
  int = 0;

  ws(): number {
    const b = this.b;
    let i = this.i;
    let c = b[i];
    if (c !== undefined && c > 0x20) return c;
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
    this.i = i;
    return c ?? -1;
  }

  expect(ch: number): void {
    if (this.ws() !== ch) throw NOT_SURE;
    this.i++;
  }

  /** At an opening quote: moves past the closing one; returns the content's [start, end). */
  string(): number {
    const b = this.b;
    const n = b.length;
    let i = this.i + 1;
    const start = i;
    let escaped = false;
    for (;;) {
      // The plain run of the string: one table lookup a byte.
      while (i < n && PLAIN[b[i]!] === 1) i++;
      if (i >= n) throw NOT_SURE;
      const c = b[i]!;
      if (c === QUOTE) break;
      if (c < 0x20) throw NOT_SURE;
      // A backslash: one of JSON's escapes.
      escaped = true;
      const e = b[i + 1];
      if (e === 0x75) {
        // \uXXXX
        for (let k = i + 2; k < i + 6; k++) if (!isHex(b[k])) throw NOT_SURE;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
      else throw NOT_SURE;
    }
    this.escaped = escaped;
    this.i = i + 1;
    return start;
  }

  /** A JSON number; returns whether it is plain digits (then `int` holds its value, if ≤ 15 digits). */
  number(): boolean {
    const b = this.b;
    let i = this.i;
    if (b[i] === 0x2d) throw NOT_SURE; // negative: the full check (and its repair) decides
    const start = i;
    if (b[i] === 0x30) i++;
    else if (isDigit(b[i])) while (isDigit(b[i])) i++;
    else throw NOT_SURE;
    const intEnd = i;
    if (b[i] === 0x2e) {
      i++;
      if (!isDigit(b[i])) throw NOT_SURE;
      while (isDigit(b[i])) i++;
    }
    // Few enough digits that the value is finite whatever the exponent below.
    if (i - start > 40) throw NOT_SURE;
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      const sign = b[i];
      if (sign === 0x2b || sign === 0x2d) i++;
      const expStart = i;
      while (isDigit(b[i])) i++;
      if (i === expStart || (sign !== 0x2d && i - expStart > 2)) throw NOT_SURE;
    }
    this.i = i;
    if (intEnd !== i || intEnd - start > 15) return false;
    let v = 0;
    for (let k = start; k < intEnd; k++) v = v * 10 + (b[k]! - 0x30);
    this.int = v;
    return true;
  }

  literal(word: Uint8Array): void {
    const b = this.b;
    for (let k = 0; k < word.length; k++) if (b[this.i + k] !== word[k]) throw NOT_SURE;
    this.i += word.length;
  }

  value(kind: Kind): void {
    const c = this.ws();
    switch (kind.k) {
      case 'str':
        if (c !== QUOTE) throw NOT_SURE;
        this.string();
        return;
      case 'checked': {
        if (c !== QUOTE) throw NOT_SURE;
        const start = this.string();
        if (this.escaped) throw NOT_SURE;
        const text = Buffer.from(this.b.buffer, this.b.byteOffset + start, this.i - 1 - start).toString('utf8');
        if (!kind.test(text)) throw NOT_SURE;
        return;
      }
      case 'bool':
        this.literal(c === 0x74 ? TRUE : FALSE);
        return;
      case 'int':
        if (!this.number() || this.int < kind.min || this.int > kind.max) throw NOT_SURE;
        return;
      case 'num':
        if (c === 0x6e && kind.nullable) this.literal(NULL);
        else this.number();
        return;
      case 'record':
        this.record(kind.of);
        return;
      case 'array':
        this.array(kind.of);
        return;
      case 'obj':
        this.object(kind.shape);
    }
  }

  record(of: 'str' | 'int'): void {
    this.expect(0x7b);
    if (this.ws() === 0x7d) {
      this.i++;
      return;
    }
    // Keys: any string (every value is checked, so a repeated key cannot hide a bad one), but
    // `__proto__`, which JSON.parse and zod treat specially, is left to the full check.
    for (;;) {
      if (this.ws() !== QUOTE) throw NOT_SURE;
      const start = this.string();
      if (this.i - 1 - start === PROTO.length && this.keyIs(PROTO_FIELD, start, PROTO.length)) throw NOT_SURE;
      this.expect(0x3a);
      this.value(of === 'str' ? STR : COUNT);
      const c = this.ws();
      this.i++;
      if (c === 0x7d) return;
      if (c !== 0x2c) throw NOT_SURE;
    }
  }

  array(of: Kind): void {
    this.expect(0x5b);
    if (this.ws() === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.value(of);
      const c = this.ws();
      this.i++;
      if (c === 0x5d) return;
      if (c !== 0x2c) throw NOT_SURE;
    }
  }

  /** An object of `s`'s fields. */
  object(s: Shape): void {
    this.expect(0x7b);
    let seenA = 0;
    let seenB = 0;
    let next = 0;
    const all = s.fields;
    if (this.ws() === 0x7d) this.i++;
    else {
      for (;;) {
        if (this.ws() !== QUOTE) throw NOT_SURE;
        // The next field in order first, `"key":` at once (the proxy writes them in order, without
        // spaces), else any field of that key's length.
        let f: Field | undefined = all[next];
        if (f && this.at(f.quoted)) this.i += f.quoted.length;
        else {
          const start = this.string();
          if (this.escaped) throw NOT_SURE;
          f = find(s, this, start, this.i - 1 - start);
          if (!f) throw NOT_SURE;
          this.expect(0x3a);
        }
        next = f.pos + 1;
        if (f.pos < 32) {
          if (seenA & f.bit) throw NOT_SURE;
          seenA |= f.bit;
        } else {
          if (seenB & f.bit) throw NOT_SURE;
          seenB |= f.bit;
        }
        this.value(f.kind);
        const c = this.ws();
        this.i++;
        if (c === 0x7d) break;
        if (c !== 0x2c) throw NOT_SURE;
      }
    }
    if ((seenA & s.required[0]) !== s.required[0] || (seenB & s.required[1]) !== s.required[1]) throw NOT_SURE;
  }

  /** Whether `bytes` stand at the current position. */
  at(bytes: Uint8Array): boolean {
    const b = this.b;
    const i = this.i;
    for (let k = 0; k < bytes.length; k++) if (b[i + k] !== bytes[k]) return false;
    return true;
  }

  keyIs(f: Field, start: number, len: number): boolean {
    const name = f.name;
    if (name.length !== len) return false;
    const b = this.b;
    for (let k = 0; k < len; k++) if (b[start + k] !== name[k]) return false;
    return true;
  }
}

function find(s: Shape, sc: Scanner, start: number, len: number): Field | undefined {
  const candidates = s.byLength.get(len);
  if (candidates) for (const f of candidates) if (sc.keyIs(f, start, len)) return f;
  return undefined;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');
const PROTO = Buffer.from('__proto__');
const PROTO_FIELD: Field = { name: PROTO, quoted: PROTO, kind: STR, pos: 0, bit: 0 };

const scanner = new Scanner();

/**
 * True when `record` is certainly one JSON object that `LlmCallEvent.safeParse(JSON.parse(…))`
 * accepts; false when not sure (then run the full check).
 */
export function scanEvent(record: Buffer): boolean {
  const s = scanner;
  s.b = record;
  s.i = 0;
  try {
    s.object(EVENT);
    return s.ws() === -1;
  } catch (err) {
    if (err === NOT_SURE) return false;
    throw err;
  } finally {
    s.b = EMPTY;
  }
}
const EMPTY = Buffer.alloc(0);

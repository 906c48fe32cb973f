// A long JSON request decoded and parsed in pieces. V8 keeps a string of 128 K one-byte
// characters or more (64 K once any character is beyond Latin-1: a ✓, a curly quote, an emoji,
// CJK) in its large-object space, a fresh mapping of its own each time; on a virtual machine
// its first-touch page faults cost ~0.5 ms per 128 KB (measured here: decoding a 70 KB chat body
// with a ✓ in it 530 µs, one of 1 KB less 15 µs). A coding agent's request is that long on
// every turn. So a long body's big arrays (messages, tools, input) are decoded and parsed a few
// dozen KB of elements at a time, and its text is the concatenation of those pieces: a rope V8
// leaves unflattened until something reads its characters as one (JSON.parse, a regex, a
// byte count). Readers that can work piece by piece (redaction, core/src/redact) take the pieces.

import { isAscii, isUtf8 } from 'node:buffer';

/**
 * A body of at least this many bytes is decoded in pieces when it holds any byte beyond ASCII:
 * its text may be two-byte, and 64 K two-byte characters are a large object. Shorter, it is
 * decoded whole: in pieces costs ~2x more (~220 against ~100 µs for 56 KB) where the whole text
 * fits a regular page.
 */
export const PIECES_MIN_BYTES = 64 * 1024;
/** An ASCII body (one-byte text) from this many bytes: 128 K one-byte characters. */
const PIECES_MIN_ASCII_BYTES = 128 * 1024;
/** A piece ends at the first element boundary past this many bytes. */
const PIECE_BYTES = 24 * 1024;

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index of the first non-whitespace byte at or after `i`. */
export function skipSpaceBytes(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/** Index just past the string literal opening at `b[i]`, or -1. */
export function stringEndBytes(b: Buffer, i: number): number {
  for (let from = i + 1; ;) {
    const q = b.indexOf(0x22, from);
    if (q < 0) return -1;
    let slashes = 0;
    while (b[q - 1 - slashes] === 0x5c) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/**
 * End (exclusive) of the JSON value starting at `b[i]`, or -1. Only finds where it ends: JSON.parse
 * checks what is inside.
 */
export function valueEndBytes(b: Buffer, i: number): number {
  const c = b[i];
  if (c === 0x22) return stringEndBytes(b, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let k = i; k < b.length;) {
      const ch = b[k];
      if (ch === 0x22) {
        k = stringEndBytes(b, k);
        if (k < 0) return -1;
        continue;
      }
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if ((ch === 0x7d || ch === 0x5d) && --depth === 0) return k + 1;
      k++;
    }
    return -1;
  }
  let k = i;
  while (k < b.length) {
    const ch = b[k];
    if (ch === 0x2c || ch === 0x5d || ch === 0x7d || isSpace(ch)) break;
    k++;
  }
  return k > i ? k : -1;
}

export interface JsonPieces {
  /** The whole text: the pieces concatenated. */
  text: string;
  json: Record<string, unknown>;
  /**
   * The text in order, each piece starting and ending outside any string literal (between
   * tokens), none longer than a group of elements.
   */
  pieces: readonly string[];
}

/**
 * `bytes` as text and parsed object, in pieces; or undefined where it is not a long JSON object
 * in valid UTF-8 written so that pieces help (the caller then decodes and parses it whole, which
 * also says what is wrong with it). The object is what JSON.parse gives: keys in order, a
 * repeated key's last value (at its first place).
 */
export function parseJsonPieces(bytes: Buffer): JsonPieces | undefined {
  if (bytes.length < PIECES_MIN_BYTES || (bytes.length < PIECES_MIN_ASCII_BYTES && isAscii(bytes)) || !isUtf8(bytes)) return undefined;
  try {
    return inPieces(bytes);
  } catch {
    return undefined;
  }
}

function inPieces(bytes: Buffer): JsonPieces | undefined {
  const n = bytes.length;
  let i = skipSpaceBytes(bytes, 0);
  if (bytes[i] !== 0x7b) return undefined;
  const json: Record<string, unknown> = {};
  const pieces: string[] = [];
  // Bytes from `cut` on are not in a piece yet.
  let cut = 0;
  const decode = (from: number, to: number): string => bytes.toString('utf8', from, to);
  i = skipSpaceBytes(bytes, i + 1);
  if (bytes[i] === 0x7d) return undefined;
  for (;;) {
    if (bytes[i] !== 0x22) return undefined;
    const keyEnd = stringEndBytes(bytes, i);
    if (keyEnd < 0) return undefined;
    const key = JSON.parse(decode(i, keyEnd)) as string;
    if (key === '__proto__') return undefined;
    let v = skipSpaceBytes(bytes, keyEnd);
    if (bytes[v] !== 0x3a) return undefined;
    v = skipSpaceBytes(bytes, v + 1);
    let end: number;
    if (bytes[v] === 0x5b) {
      const items = elementsInPieces(bytes, v, cut, pieces);
      if (items === undefined) return undefined;
      ({ cut, end } = items);
      json[key] = items.values;
    } else {
      end = valueEndBytes(bytes, v);
      if (end < 0) return undefined;
      json[key] = JSON.parse(decode(v, end));
    }
    i = skipSpaceBytes(bytes, end);
    if (bytes[i] === 0x2c) {
      i = skipSpaceBytes(bytes, i + 1);
      continue;
    }
    if (bytes[i] !== 0x7d) return undefined;
    if (skipSpaceBytes(bytes, i + 1) !== n) return undefined;
    break;
  }
  // No array long enough to split: one piece, which the caller's decoding makes as well.
  if (pieces.length === 0) return undefined;
  pieces.push(decode(cut, n));
  let text = '';
  for (const p of pieces) text += p;
  return { text, json, pieces };
}

/**
 * The elements of the array opening at `bytes[from]` (and where it ends), parsed a group at a
 * time; each group's text becomes a piece (and the text since `cut` before it another).
 */
function elementsInPieces(bytes: Buffer, from: number, cut: number, pieces: string[]): { values: unknown[]; cut: number; end: number } | undefined {
  const values: unknown[] = [];
  let i = skipSpaceBytes(bytes, from + 1);
  if (bytes[i] === 0x5d) return { values, cut, end: i + 1 };
  let group = -1;
  let last = -1;
  const flush = (): void => {
    // The group's elements and the commas between them, as one array for JSON.parse.
    if (group > cut) pieces.push(bytes.toString('utf8', cut, group));
    const text = bytes.toString('utf8', group, last);
    pieces.push(text);
    const parsed = JSON.parse(`[${text}]`) as unknown[];
    for (const x of parsed) values.push(x);
    cut = last;
    group = -1;
  };
  for (;;) {
    const end = valueEndBytes(bytes, i);
    if (end < 0) return undefined;
    if (group < 0) group = i;
    last = end;
    if (last - group >= PIECE_BYTES) flush();
    i = skipSpaceBytes(bytes, end);
    if (bytes[i] === 0x2c) {
      i = skipSpaceBytes(bytes, i + 1);
      if (bytes[i] === 0x5d) return undefined;
      continue;
    }
    if (bytes[i] !== 0x5d) return undefined;
    if (group >= 0) flush();
    return { values, cut, end: i + 1 };
  }
}

/**
 * `slice(a, b)` of the text `pieces` make, from the pieces (the text itself is never made one
 * string); with `into`, the slice's parts (one per piece it spans) are pushed there instead.
 */
export function slicer(pieces: readonly string[]): (a: number, b: number, into?: string[]) => string {
  const starts: number[] = [];
  let n = 0;
  for (const p of pieces) {
    starts.push(n);
    n += p.length;
  }
  return (a, b, into) => {
    let out = '';
    let k = 0;
    while (k + 1 < starts.length && starts[k + 1]! <= a) k++;
    for (; a < b && k < pieces.length; k++) {
      const to = Math.min(b, starts[k]! + pieces[k]!.length);
      const part = pieces[k]!.slice(a - starts[k]!, to - starts[k]!);
      if (into) into.push(part);
      else out += part;
      a = to;
    }
    return out;
  };
}

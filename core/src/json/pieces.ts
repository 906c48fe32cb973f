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
import { Scan } from './byte-scan.ts';

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
  const s = new Scan(bytes);
  let i = s.ws(0);
  if (bytes[i] !== 0x7b) return undefined;
  const json: Record<string, unknown> = {};
  const pieces: string[] = [];
  // Bytes from `cut` on are not in a piece yet.
  let cut = 0;
  const decode = (from: number, to: number): string => bytes.toString('utf8', from, to);
  i = s.ws(i + 1);
  if (bytes[i] === 0x7d) return undefined;
  for (;;) {
    if (bytes[i] !== 0x22) return undefined;
    const keyEnd = s.stringEnd(i);
    const key = JSON.parse(decode(i, keyEnd)) as string;
    if (key === '__proto__') return undefined;
    let v = s.ws(keyEnd);
    if (bytes[v] !== 0x3a) return undefined;
    v = s.ws(v + 1);
    let end: number;
    if (bytes[v] === 0x5b) {
      const { spans, close } = s.children(v);
      cut = elementsInPieces(bytes, spans, cut, pieces, (json[key] = []));
      end = close + 1;
    } else {
      end = s.end(v);
      json[key] = JSON.parse(decode(v, end));
    }
    i = s.ws(end);
    if (bytes[i] === 0x2c) {
      i = s.ws(i + 1);
      continue;
    }
    if (bytes[i] !== 0x7d) return undefined;
    if (s.ws(i + 1) !== n) return undefined;
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
 * An array's elements (their byte spans) parsed into `values` a group at a time; each group's
 * text becomes a piece (and the text since `cut` before it another). Returns the new `cut`.
 */
function elementsInPieces(bytes: Buffer, spans: readonly [number, number][], cut: number, pieces: string[], values: unknown[]): number {
  let group = -1;
  for (let k = 0; k < spans.length; k++) {
    const [from, to] = spans[k]!;
    if (group < 0) group = from;
    if (to - group < PIECE_BYTES && k + 1 < spans.length) continue;
    // The group's elements and the commas between them, as one array for JSON.parse.
    if (group > cut) pieces.push(bytes.toString('utf8', cut, group));
    const text = bytes.toString('utf8', group, to);
    pieces.push(text);
    for (const x of JSON.parse(`[${text}]`) as unknown[]) values.push(x);
    cut = to;
    group = -1;
  }
  return cut;
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

// The client's JSON with some top-level fields set (an alias's upstream model name, the
// stream_options a stream's usage needs), as the client's own text everywhere else: its
// numbers, escapes, key order and spacing reach the provider as written. Re-serialising the
// parsed body instead turns 12345678901234567891 into 12345678901234567000 and 1e999 into
// null, unescapes \u0041, and costs a JSON.stringify of the whole body (~40-100 µs for 30 KB).

import { skipSpace, stringEnd, valueEnd } from './json-scan.ts';
import { Malformed, Scan } from './byte-scan.ts';
import { slicer } from './pieces.ts';

/**
 * `text` (a JSON object the caller parsed) with each top-level field of `set` given its value,
 * a JSON text (`JSON.stringify(v)`): every occurrence of the key replaced in place (a duplicated
 * key reads the same whichever one an upstream keeps), a key it lacks appended last. Null when
 * its top level is not written plainly (a key with an escape, which could spell one of `set`'s
 * keys): the caller re-serialises then.
 */
export function withTopLevel(text: string, set: Readonly<Record<string, string>>): string | null {
  const edits = topLevelEdits(text, set);
  return edits === null ? null : applied(text, edits);
}

/**
 * withTopLevel as text and as its UTF-8 bytes, the bytes spliced from `bytes` (the UTF-8 of
 * `text`, e.g. the client's own): a long body is not encoded again to be sent (~10 µs per KB for
 * a text with characters beyond Latin-1).
 */
export function withTopLevelBoth(text: string, bytes: Buffer, set: Readonly<Record<string, string>>, pieces?: readonly string[]): { text: string; bytes: Buffer } | null {
  if (pieces) return withTopLevelPieces(text, bytes, set, pieces);
  const edits = topLevelEdits(text, set);
  if (edits === null) return null;
  let byteAt = 0;
  const out: Buffer[] = [];
  // A character offset as a byte offset, counted from the nearer end (the model key leads a
  // body, added keys go before its last brace).
  const bytesTo = (i: number): number => (i <= text.length / 2 ? Buffer.byteLength(text.slice(0, i)) : bytes.length - Buffer.byteLength(text.slice(i)));
  for (const e of edits) {
    const from = bytesTo(e.from);
    out.push(bytes.subarray(byteAt, from), Buffer.from(e.insert));
    byteAt = e.to === e.from ? from : bytesTo(e.to);
  }
  out.push(bytes.subarray(byteAt));
  return { text: applied(text, edits), bytes: Buffer.concat(out) };
}

/**
 * withTopLevel's replacements found in a JSON text's valid UTF-8 `bytes`, in byte offsets and in
 * order (`splicedBytes` makes them): ingest writes an attempt's request_set back this way, never
 * decoding the long body. Null where withTopLevel is; undefined when a name of `set` is not ASCII
 * (keys are read as Latin-1 here): the caller uses withTopLevel then.
 */
export function topLevelByteEdits(bytes: Buffer, set: Readonly<Record<string, string>>): Edit[] | null | undefined {
  if (Object.keys(set).some((n) => /[^\x00-\x7f]/.test(n))) return undefined;
  return topLevelEditsOf(bytes, set);
}

/** `bytes` with `edits` (byte offsets) made. */
export function splicedBytes(bytes: Buffer, edits: readonly Edit[]): Buffer {
  const out: Buffer[] = [];
  let byteAt = 0;
  for (const e of edits) {
    out.push(bytes.subarray(byteAt, e.from), Buffer.from(e.insert));
    byteAt = e.to;
  }
  out.push(bytes.subarray(byteAt));
  return Buffer.concat(out);
}

/**
 * withTopLevelBoth of a text in pieces (core/src/json/pieces.ts), its `bytes` valid UTF-8: the
 * top level is read from the bytes and the text made from the pieces, never as one string.
 */
function withTopLevelPieces(text: string, bytes: Buffer, set: Readonly<Record<string, string>>, pieces: readonly string[]): { text: string; bytes: Buffer } | null {
  const edits = topLevelEditsOf(bytes, set);
  if (edits === null) return null;
  // A byte offset as a character offset, counted from the nearer end (as in withTopLevelBoth).
  const charsTo = (i: number): number => (i <= bytes.length / 2 ? bytes.toString('utf8', 0, i).length : text.length - bytes.toString('utf8', i).length);
  const inChars = edits.map((e) => {
    const from = charsTo(e.from);
    return { from, to: e.to === e.from ? from : charsTo(e.to), insert: e.insert };
  });
  return { text: applied(text, inChars, slicer(pieces)), bytes: splicedBytes(bytes, edits) };
}

/** `text` with `edits` made (`slice`: of `text`, from its pieces where it is in some). */
function applied(text: string, edits: readonly Edit[], slice = (a: number, b: number): string => text.slice(a, b)): string {
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += slice(at, e.from) + e.insert;
    at = e.to;
  }
  return out + slice(at, text.length);
}

/** One replacement of withTopLevel: `text[from, to)` becomes `insert`. */
export interface Edit {
  from: number;
  to: number;
  insert: string;
}

/** topLevelEdits of a JSON text's UTF-8 `bytes`, in byte offsets. */
function topLevelEditsOf(bytes: Buffer, set: Readonly<Record<string, string>>): Edit[] | null {
  try {
    return editsOf(new Scan(bytes), set);
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
}

function editsOf(s: Scan, set: Readonly<Record<string, string>>): Edit[] | null {
  const bytes = s.b;
  const names = Object.keys(set);
  const found = names.map(() => false);
  const edits: Edit[] = [];
  let keys = 0;
  let i = s.ws(0);
  if (bytes[i] !== 123) return null;
  i = s.ws(i + 1);
  let close: number;
  for (;;) {
    if (bytes[i] === 125 && keys === 0) {
      close = i;
      break;
    }
    if (bytes[i] !== 34) return null;
    const keyEnd = s.stringEnd(i);
    // A key with an escape could spell one of `names` without matching its text.
    const key = bytes.toString('latin1', i + 1, keyEnd - 1);
    if (key.includes('\\')) return null;
    i = s.ws(keyEnd);
    if (bytes[i] !== 58 /* : */) return null;
    i = s.ws(i + 1);
    const end = s.end(i);
    const n = names.indexOf(key);
    if (n >= 0) {
      edits.push({ from: i, to: end, insert: set[key]! });
      found[n] = true;
    }
    keys++;
    i = s.ws(end);
    if (bytes[i] === 44) {
      i = s.ws(i + 1);
      continue;
    }
    if (bytes[i] !== 125) return null;
    close = i;
    break;
  }
  if (s.ws(close + 1) !== bytes.length) return null;
  const added = addedKeys(names, found, keys, set);
  if (added !== '') edits.push({ from: close, to: close, insert: added });
  return edits;
}

/** The members of `set` the object lacks (`found` false), to go before its closing brace. */
function addedKeys(names: readonly string[], found: readonly boolean[], keys: number, set: Readonly<Record<string, string>>): string {
  let added = '';
  for (let n = 0; n < names.length; n++) {
    if (found[n]) continue;
    added += `${keys > 0 || added !== '' ? ',' : ''}${JSON.stringify(names[n])}:${set[names[n]!]!}`;
  }
  return added;
}

/** withTopLevel's replacements, in order. */
function topLevelEdits(text: string, set: Readonly<Record<string, string>>): Edit[] | null {
  const names = Object.keys(set);
  const found = names.map(() => false);
  const edits: Edit[] = [];
  let keys = 0;
  let slash = text.indexOf('\\');
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return null;
  i = skipSpace(text, i + 1);
  let close: number;
  for (;;) {
    if (text.charCodeAt(i) === 125 && keys === 0) {
      close = i;
      break;
    }
    if (text.charCodeAt(i) !== 34) return null;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return null;
    // A key with an escape could spell one of `names` without matching its text.
    if (slash >= 0 && slash < i) slash = text.indexOf('\\', i);
    if (slash >= 0 && slash < keyEnd) return null;
    const keyAt = i + 1;
    const keyLength = keyEnd - 1 - keyAt;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== 58 /* : */) return null;
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    if (end <= i) return null;
    for (let n = 0; n < names.length; n++) {
      const name = names[n]!;
      if (keyLength !== name.length || !text.startsWith(name, keyAt)) continue;
      edits.push({ from: i, to: end, insert: set[name]! });
      found[n] = true;
      break;
    }
    keys++;
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === 44) {
      i = skipSpace(text, i + 1);
      continue;
    }
    if (c !== 125) return null;
    close = i;
    break;
  }
  if (skipSpace(text, close + 1) !== text.length) return null;
  const added = addedKeys(names, found, keys, set);
  if (added !== '') edits.push({ from: close, to: close, insert: added });
  return edits;
}

// Reads a few top-level fields of a large JSON response without parsing all of it. An
// embeddings response can be megabytes of floats; JSON.parse of it would delay the client's
// end by milliseconds just to read `usage` and `model`. Inside JSON strings every quote is
// escaped, so an unescaped `"key"` followed by `:` is always a key.

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Index of the first non-whitespace character at or after `i`. */
export function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past `"key":` (and whitespace) for the first/last occurrence, or -1. */
function valueStart(s: string, key: string, last: boolean): number {
  const needle = `"${key}"`;
  let at = last ? s.lastIndexOf(needle) : s.indexOf(needle);
  while (at !== -1) {
    const colon = skipSpace(s, at + needle.length);
    if (s.charCodeAt(colon) === 0x3a /* : */ && s.charCodeAt(at - 1) !== 0x5c /* \ */) return skipSpace(s, colon + 1);
    at = last ? s.lastIndexOf(needle, at - 1) : s.indexOf(needle, at + 1);
  }
  return -1;
}

/** Index just past the string literal opening at `i`, or -1 (found by indexOf, not char by char). */
export function stringEnd(s: string, i: number): number {
  for (let from = i + 1; ;) {
    const q = s.indexOf('"', from);
    if (q < 0) return -1;
    let slashes = 0;
    while (s.charCodeAt(q - 1 - slashes) === 0x5c /* \ */) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/**
 * End index (exclusive) of the JSON value starting at `i` — a string, an object/array or a
 * literal (which ends at `,`, whitespace or its parent's closing bracket) — or -1.
 */
export function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22 /* " */) return stringEnd(s, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    for (let k = i; k < s.length;) {
      const ch = s.charCodeAt(k);
      if (ch === 0x22) {
        k = stringEnd(s, k);
        if (k < 0) return -1;
        continue;
      }
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if ((ch === 0x7d || ch === 0x5d) && --depth === 0) return k + 1;
      k++;
    }
    return -1;
  }
  for (let k = i; k < s.length; k++) {
    const ch = s.charCodeAt(k);
    if (ch === 0x2c /* , */ || ch === 0x7d /* } */ || ch === 0x5d /* ] */ || isSpace(ch)) return k;
  }
  return -1;
}

/** The value of `"key"` (first occurrence, or last with `last`), parsed; undefined when absent or malformed. */
export function scanJsonField(s: string, key: string, last = false): unknown {
  const start = valueStart(s, key, last);
  if (start === -1) return undefined;
  const end = valueEnd(s, start);
  if (end === -1) return undefined;
  try {
    return JSON.parse(s.slice(start, end)) as unknown;
  } catch {
    return undefined;
  }
}

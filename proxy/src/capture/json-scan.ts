// Reads a few top-level fields of a large JSON response without parsing all of it. An
// embeddings response can be megabytes of floats; JSON.parse of it would delay the client's
// end by milliseconds just to read `usage` and `model`. Inside JSON strings every quote is
// escaped, so an unescaped `"key"` followed by `:` is always a key.

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(s: string, i: number): number {
  while (i < s.length && WS.has(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past `"key":` (and whitespace) for the first/last occurrence, or -1. */
function valueStart(s: string, key: string, last: boolean): number {
  const needle = `"${key}"`;
  let at = last ? s.lastIndexOf(needle) : s.indexOf(needle);
  while (at !== -1) {
    const colon = skipWs(s, at + needle.length);
    if (s.charCodeAt(colon) === 0x3a /* : */ && s.charCodeAt(at - 1) !== 0x5c /* \ */) return skipWs(s, colon + 1);
    at = last ? s.lastIndexOf(needle, at - 1) : s.indexOf(needle, at + 1);
  }
  return -1;
}

/** End index (exclusive) of the JSON value starting at i: a string, an object/array or a literal. */
function valueEnd(s: string, i: number): number {
  let depth = 0;
  let inString = false;
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (inString) {
      if (c === 0x5c) j++;
      else if (c === 0x22) {
        inString = false;
        if (depth === 0) return j + 1;
      }
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return j; // closing the parent: a literal ended
      depth--;
      if (depth === 0) return j + 1;
    } else if (depth === 0 && (c === 0x2c || WS.has(c))) return j;
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

// JSON string literals to and from UTF-8 bytes, never as one JS string: a long body read as a
// string is a V8 large object (≥ 128 K one-byte or 64 K two-byte characters), a fresh mapping
// whose first-touch page faults cost ~0.5 ms per 128 KB on a virtual machine. The event's
// request_body is written this way by the proxy (event.ts) and read this way by ingest's block
// split (ingest/src/record-split.ts).

const QUOTE = 0x22, BACKSLASH = 0x5c;

/**
 * Bytes read as Latin-1 per piece of at most this many, under the large-object size (measured on
 * these VMs: ~8 µs per KB quoted whole, ~1.3 µs per KB in pieces). Any byte boundary is a
 * character boundary in Latin-1.
 */
const QUOTE_PIECE = 32_768;

/**
 * `bytes` read as Latin-1, as JSON string literals of consecutive pieces. Written back as Latin-1
 * their insides are the JSON escaping of the UTF-8 text `bytes` holds: JSON.stringify escapes
 * only `"`, `\` and controls below 0x20 (all ASCII); bytes of 0x80 and up pass as they are.
 */
export function quotedPieces(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length || at === 0; at += QUOTE_PIECE) {
    out.push(JSON.stringify(bytes.toString('latin1', at, Math.min(bytes.length, at + QUOTE_PIECE))));
  }
  return out;
}

/** The JSON string literal (quotes included) of the text whose valid UTF-8 is `bytes`. */
export function quoteBytes(bytes: Buffer): Buffer {
  const quoted = quotedPieces(bytes);
  let length = 2;
  for (const q of quoted) length += q.length - 2;
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  out[o++] = QUOTE;
  for (const q of quoted) o += out.write(q.slice(1, -1), o, 'latin1');
  out[o] = QUOTE;
  return out;
}

/** An escape's letter → the byte it stands for; -1 for none (JSON.parse refuses it). */
const SIMPLE = new Int16Array(256).fill(-1);
for (const [letter, byte] of [[0x22, 0x22], [0x5c, 0x5c], [0x2f, 0x2f], [0x62, 0x08], [0x66, 0x0c], [0x6e, 0x0a], [0x72, 0x0d], [0x74, 0x09]] as const) SIMPLE[letter] = byte;

function hex4(b: Uint8Array, i: number): number {
  let v = 0;
  for (let k = i; k < i + 4; k++) {
    const c = b[k]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Writes code point `cp` as UTF-8 at `o`; returns the next offset. */
function utf8(out: Uint8Array, o: number, cp: number): number {
  if (cp < 0x80) out[o++] = cp;
  else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/**
 * The UTF-8 bytes of the text the JSON string literal `buf[start, end)` (quotes included) stands
 * for: what `Buffer.from(JSON.parse(literal))` gives, for a literal whose raw bytes are valid
 * UTF-8 (the caller checks). The literal's end is the caller's (Scan.stringEnd): a quote inside
 * it is taken as text. Null where JSON.parse would throw (a raw control character, an unknown
 * escape, an unfinished `\u`) and for a lone surrogate escape, which no UTF-8 holds (Buffer.from
 * would write U+FFFD, while the text itself keeps it: the caller decides, by parsing).
 * One byte loop: a body escapes every few dozen bytes (each quote of the JSON inside it), where a
 * native search per escape cost ~3x the loop. With `quotes`, the offsets in the text of its
 * unescaped quotes are pushed there, in order: the JSON the text holds has its strings there.
 */
export function unquoteBytes(buf: Buffer, start: number, end: number, quotes?: number[]): Buffer | null {
  if (end - start < 2 || buf[start] !== QUOTE || buf[end - 1] !== QUOTE) return null;
  // Plain Uint8Arrays, not Buffers, in the loop: measured 2x faster per byte here.
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const last = end - 1;
  // Escapes only ever shrink: the literal's length bounds the text's.
  const out = new Uint8Array(last - start - 1);
  let o = 0;
  // Backslashes just written: a quote after an even run of them is one the text's own JSON
  // does not escape (`quotes`: where its strings start and end, for Scan).
  let run = 0;
  let i = start + 1;
  while (i < last) {
    const c = b[i]!;
    if (c >= 0x20 && c !== BACKSLASH) {
      out[o++] = c;
      run = 0;
      i++;
      continue;
    }
    if (c < 0x20 || i + 1 >= last) return null;
    const e = b[i + 1]!;
    if (e !== 0x75 /* u */) {
      const v = SIMPLE[e]!;
      if (v < 0) return null;
      if (v === QUOTE && (run & 1) === 0) quotes?.push(o);
      run = v === BACKSLASH ? run + 1 : 0;
      out[o++] = v;
      i += 2;
      continue;
    }
    if (i + 6 > last) return null;
    let cp = hex4(b, i + 2);
    if (cp < 0) return null;
    i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const lo = i + 6 <= last && b[i] === BACKSLASH && b[i + 1] === 0x75 ? hex4(b, i + 2) : -1;
      if (lo < 0xdc00 || lo > 0xdfff) return null;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      i += 6;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) return null;
    if (cp === QUOTE && (run & 1) === 0) quotes?.push(o);
    run = cp === BACKSLASH ? run + 1 : 0;
    o = utf8(out, o, cp);
  }
  return Buffer.from(out.buffer, 0, o);
}

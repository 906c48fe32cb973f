// Redaction of one call's texts: every detected span becomes a typed, numbered placeholder
// (`[EMAIL_1]`), the same value getting the same placeholder everywhere in the call (request,
// response, error message), so a redacted conversation still reads.
//
// Bodies are JSON text: detectors run on a view of the same length in which only string
// contents remain and their escapes are blanked (jsonView), so replacing spans in the original
// keeps the JSON valid. Other text (error messages) is scanned as it is. Custom patterns from
// config run on RE2 (re2js): linear time whatever a user writes. Callers bound every scan
// (policy.ts: a window of the body cap).
import { RE2JS } from 're2js';
import { builtinDetectors, digitShapes, type Detector, type DetectorName, type Hit } from './detectors.ts';
import { slicer } from '../json/pieces.ts';

export interface CustomPattern {
  /** Placeholder type: upper-case letters, digits and _. */
  name: string;
  pattern: string;
}

export interface RedactorOptions {
  detectors: readonly DetectorName[];
  custom: readonly CustomPattern[];
}

/** Compile a custom pattern, or say why it cannot be (config validation uses this). */
export function compileCustom(p: CustomPattern): { ok: true; re: RE2JS } | { ok: false; message: string } {
  try {
    return { ok: true, re: RE2JS.compile(p.pattern) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

function customDetector(p: CustomPattern): Detector {
  const c = compileCustom(p);
  if (!c.ok) throw new Error(`redaction pattern ${p.name}: ${c.message}`);
  const re = c.re;
  return {
    name: 'custom',
    find(view, out) {
      const m = re.matcher(view);
      while (m.find()) {
        if (m.end() > m.start()) out.push({ start: m.start(), end: m.end(), type: p.name });
      }
    },
  };
}

/** Only a text with a character above U+00FF (emoji, CJK unescaped) matches. */
const NOT_LATIN1 = /[^\u0000-\u00ff]/;
/**
 * Reused between calls (redaction is synchronous). A longer text takes `jsonViewParts`: a fresh
 * buffer per call was measured slower than the parts (external memory brings on full GCs), and
 * a bigger one kept for good is more memory than the speed is worth.
 */
const SCRATCH_MAX = 1 << 20;
let scratch = Buffer.allocUnsafeSlow(4096);

/**
 * Code units above U+00FF that JavaScript's `\s` matches: in a view of Latin-1 they become
 * U+00A0 (also `\s`), every other one U+00FF (in no class a built-in rule uses).
 */
export const WIDE_SPACES: ReadonlySet<number> = new Set([0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff]);
let wide = new Uint16Array(0);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `text`'s code units into `buf` from `base` as bytes, each above U+00FF as WIDE_SPACES says. */
function writeNarrowed(buf: Buffer, text: string, base: number): void {
  const n = text.length;
  if (wide.length < n) wide = new Uint16Array(Math.min(SCRATCH_MAX, Math.max(n, 2 * wide.length)));
  const units = wide;
  Buffer.from(units.buffer, units.byteOffset, 2 * n).write(text, 0, 2 * n, 'utf16le');
  for (let i = 0; i < n; i++) {
    const u = units[i]!;
    buf[base + i] = u < 256 ? u : WIDE_SPACES.has(u) ? 0xa0 : 0xff;
  }
}

/**
 * The detectors' view of a JSON text, same length and positions: everything outside string
 * literals and every escape inside them blanked to spaces, quotes kept. A number is never
 * matched (a placeholder there would break the JSON), a token after `\n` is seen with its real
 * boundary, and no match can cross a string's end. One pass; a cut-off string runs to the end.
 *
 * A text of one-byte characters (nearly every body: JSON escapes non-ASCII or it is Latin-1) is
 * copied into a byte buffer, blanked in place and read back: no per-segment strings (measured
 * 4-5x cheaper on a chat call's bodies). `narrow`: the built-in detectors only read (every
 * class they match is ASCII or `\s`), so a text with wider characters (an accent, a ✓, an
 * emoji, CJK) takes the same path with each of those as one Latin-1 stand-in — a view they
 * match exactly as the text's own (~0.9 ms less per 64 KB body). Any other text takes
 * `jsonViewParts`.
 */
export function jsonView(text: string, narrow = false): string {
  const n = fillJsonView(text, narrow);
  return n < 0 ? jsonViewParts(text) : scratch.toString('latin1', 0, n);
}

/**
 * jsonView into `scratch` (its first `text.length` bytes, returned), or -1 where it takes
 * `jsonViewParts` instead. Valid until the next call.
 */
function fillJsonView(text: string, narrow: boolean): number {
  return fillJsonViewOf([text], narrow);
}

/**
 * fillJsonView of the text `pieces` make, each starting and ending outside any string literal
 * (core/src/json/pieces.ts): written and blanked one piece at a time, never made one string.
 */
function fillJsonViewOf(pieces: readonly string[], narrow: boolean): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  if (n > SCRATCH_MAX) return -1;
  const latin1 = pieces.map((p) => !NOT_LATIN1.test(p));
  if (latin1.includes(false) && !(narrow && LITTLE_ENDIAN)) return -1;
  if (n > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, Math.max(n, 2 * scratch.length)));
  let base = 0;
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k]!;
    if (latin1[k]) scratch.write(p, base, p.length, 'latin1');
    else writeNarrowed(scratch, p, base);
    blankOutsideStrings(scratch, p, base);
    base += p.length;
  }
  return n;
}

/** Blank `text` (written into `buf` from `base`) outside its string literals and its escapes. */
function blankOutsideStrings(buf: Buffer, text: string, base: number): void {
  const n = text.length;
  let i = 0;
  let quote = -1;
  let slash = text.indexOf('\\');
  while (i < n) {
    // Outside a string: blank up to the next quote (a few bytes between keys and values).
    while (buf[base + i] !== 34) {
      buf[base + i] = 32;
      if (++i === n) return;
    }
    const seg = i + 1;
    i = n;
    for (let at = seg; ;) {
      if (quote < at) quote = text.indexOf('"', at);
      if (slash >= 0 && slash < at) slash = text.indexOf('\\', at);
      if (slash >= 0 && (quote < 0 || slash < quote)) {
        const end = Math.min(slash + (text.charCodeAt(slash + 1) === 117 /* u */ ? 6 : 2), n);
        for (let k = slash; k < end; k++) buf[base + k] = 32;
        at = end;
        continue;
      }
      if (quote >= 0) i = quote + 1;
      break;
    }
  }
}

/**
 * Longest window of a view the detectors read as one string. V8 keeps a string of 128 K one-byte
 * characters or more in its large-object space, a fresh mapping each time whose first-touch page
 * faults cost ~0.5 ms per 128 KB on a virtual machine; a long body's view is read in windows
 * below that instead. A window ends just after a quote: no built-in detector matches a quote or
 * looks behind or ahead for one, so no match crosses that boundary and every look-around sees
 * what it would in the whole view (nothing where it would see the quote, which no class holds).
 */
const VIEW_WINDOW = 60_000;

/** End (exclusive) of the view window of `scratch[0, n)` starting at `from`. */
function windowEnd(from: number, n: number): number {
  if (n - from <= VIEW_WINDOW) return n;
  const q = scratch.lastIndexOf(34, from + VIEW_WINDOW - 1);
  if (q >= from) return q + 1;
  const next = scratch.indexOf(34, from + VIEW_WINDOW);
  return next < 0 || next >= n ? n : next + 1;
}

/** jsonView for any text: the same view built from string parts. */
export function jsonViewParts(text: string): string {
  const n = text.length;
  const parts: string[] = [];
  let i = 0;
  let quote = text.indexOf('"');
  let slash = text.indexOf('\\');
  while (i < n) {
    if (quote < i) quote = text.indexOf('"', i);
    if (quote < 0) {
      parts.push(' '.repeat(n - i));
      break;
    }
    parts.push(' '.repeat(quote - i), '"');
    let seg = quote + 1;
    i = n;
    for (;;) {
      if (quote < seg) quote = text.indexOf('"', seg);
      if (slash >= 0 && slash < seg) slash = text.indexOf('\\', seg);
      if (slash >= 0 && (quote < 0 || slash < quote)) {
        const len = Math.min(text.charCodeAt(slash + 1) === 117 /* u */ ? 6 : 2, n - slash);
        parts.push(text.slice(seg, slash), ' '.repeat(len));
        seg = slash + len;
        continue;
      }
      if (quote < 0) {
        parts.push(text.slice(seg));
        break;
      }
      parts.push(text.slice(seg, quote), '"');
      i = quote + 1;
      break;
    }
  }
  return parts.join('');
}

/** Whether `text` is treated as JSON: it starts (after blanks) with `{` or `[`. */
export function looksJson(text: string): boolean {
  const c = text.charCodeAt(0);
  return c === 123 /* { */ || c === 91 /* [ */ || LOOKS_JSON.test(text);
}
const LOOKS_JSON = /^\s{0,64}[[{]/;

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** Redaction state of one call: placeholders and counts shared by all its texts. */
export class CallRedaction {
  // Made on the first placeholder: most calls have nothing to redact.
  private byValue: Map<string, string> | undefined;
  private perType: Map<string, number> | undefined;
  /** Occurrences redacted, by type. */
  readonly counts: Record<string, number> = {};

  private readonly detectors: readonly Detector[];
  /** Some detector reads `digitShapes` (none does when every digit-based one is off). */
  private readonly shaped: boolean;
  /** Only built-in detectors: a JSON view may stand one Latin-1 character for each wider one (jsonView). */
  private readonly narrow: boolean;

  constructor(detectors: readonly Detector[], shaped: boolean, narrow = false) {
    this.detectors = detectors;
    this.shaped = shaped;
    this.narrow = narrow;
  }

  /** Any placeholder handed out. */
  get any(): boolean {
    return this.byValue !== undefined && this.byValue.size > 0;
  }

  private placeholder(type: string, value: string): string {
    const k = `${type}\u0000${value}`;
    const byValue = (this.byValue ??= new Map());
    const perType = (this.perType ??= new Map());
    let p = byValue.get(k);
    if (p === undefined) {
      const n = (perType.get(type) ?? 0) + 1;
      perType.set(type, n);
      p = `[${type}_${n}]`;
      byValue.set(k, p);
    }
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    return p;
  }

  /**
   * `text` with every detected span replaced; linear in `text` (callers bound its size). Output
   * stops at input position `emitUntil` (a span straddling it is replaced whole): a caller
   * scanning a window of a longer text passes the window's end less the longest token, so no
   * token cut by the window reaches the output half-redacted.
   */
  redact(text: string, emitUntil = text.length, pieces?: readonly string[], outPieces?: string[]): string {
    if (text.length === 0) return text;
    const hits: Hit[] = [];
    // The view as one string, or — a long JSON text read in windows (VIEW_WINDOW) — in `scratch`.
    let view: string | undefined = text;
    // A text in pieces is read in them (only the built-in detectors, which match within strings).
    const parts = pieces && this.narrow && emitUntil >= text.length ? pieces : undefined;
    const json = looksJson(parts?.[0] ?? text);
    const n = json ? (parts ? fillJsonViewOf(parts, true) : fillJsonView(text, this.narrow)) : -1;
    if (n < 0) {
      if (json) view = jsonViewParts(text);
      this.find(view, 0, hits);
    } else if (n <= VIEW_WINDOW || !this.narrow) {
      view = scratch.toString('latin1', 0, n);
      this.find(view, 0, hits);
    } else {
      view = undefined;
      for (let from = 0; from < n; ) {
        const end = windowEnd(from, n);
        this.find(scratch.toString('latin1', from, end), from, hits);
        from = end;
      }
    }
    if (hits.length === 0) {
      if (parts && outPieces) outPieces.push(...parts);
      return emitUntil >= text.length ? text : text.slice(0, emitUntil);
    }
    const viewAt = view === undefined ? (k: number): number => scratch[k]! : (k: number): number => view.charCodeAt(k);
    // Read in pieces, the output is made of them too (`outPieces`, where asked for: a piece each
    // of the text between placeholders, split where the input's pieces are, and a placeholder).
    const sliced = parts ? slicer(parts) : undefined;
    const into = parts ? outPieces : undefined;
    const slice = (a: number, b: number): string => {
      if (!sliced) return text.slice(a, b);
      if (!into) return sliced(a, b);
      const first = into.length;
      sliced(a, b, into);
      let part = '';
      for (let k = first; k < into.length; k++) part += into[k];
      return part;
    };
    // Earlier detectors first at equal starts: stable sort keeps the priority order.
    hits.sort((a, b) => a.start - b.start);
    let out = '';
    let at = 0;
    for (const h of hits) {
      let { start, end } = h;
      // Spans are trimmed to their content: never a half-blanked escape at either end.
      while (start < end && isSpace(viewAt(start))) start++;
      while (end > start && isSpace(viewAt(end - 1))) end--;
      if (start < at || end <= start) continue;
      if (start >= emitUntil) break;
      const before = slice(at, start);
      const placeholder = this.placeholder(h.type, (sliced ?? slice)(start, end));
      into?.push(placeholder);
      out += before + placeholder;
      at = end;
    }
    return out + slice(at, Math.max(at, emitUntil));
  }

  /** Every detector's hits in `view`, a window of the whole starting at `offset`. */
  private find(view: string, offset: number, hits: Hit[]): void {
    const first = hits.length;
    const shapes = this.shaped ? digitShapes(view) : 0;
    for (const d of this.detectors) d.find(view, hits, shapes);
    if (offset === 0) return;
    for (let k = first; k < hits.length; k++) {
      const h = hits[k]!;
      h.start += offset;
      h.end += offset;
    }
  }
}

export interface Redactor {
  /** Fresh state for one call. */
  call(): CallRedaction;
}

export function createRedactor(o: RedactorOptions): Redactor {
  const detectors = [...builtinDetectors(o.detectors), ...o.custom.map(customDetector)];
  const shaped = detectors.some((d) => d.usesShapes === true);
  // A custom pattern may match any character: its view keeps them.
  const narrow = o.custom.length === 0;
  return { call: () => new CallRedaction(detectors, shaped, narrow) };
}

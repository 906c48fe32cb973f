// multipart/form-data read in place (RFC 7578): where each part's value lies in the client's
// own bytes, so an audio upload is forwarded as received, its small fields are read without
// copying the file, and the one field gatelog may change (`model`, when an alias names another
// upstream model) is rewritten by splicing, keeping the boundary and every other byte.
// Boundaries are found with Buffer#indexOf (native); part headers are at most MAX_HEADER_BYTES.
// The reading matches undici's `Response#formData()` (multipart.test.ts compares the two),
// which copies each file into a Blob and gives no offsets.

export class FormError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface FormPart {
  name: string;
  /** null: a plain field (not a file). */
  filename: string | null;
  /** The part's Content-Type ('' when it names none). */
  contentType: string;
  /** The value's bytes in the body: [start, end). */
  start: number;
  end: number;
}

export interface ParsedForm {
  boundary: string;
  parts: FormPart[];
  /** Where the closing delimiter's CRLF starts: a part is added there. */
  closeAt: number;
}

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PARTS = 1000;
const HEADERS_END = Buffer.from('\r\n\r\n');

/** The boundary of a `multipart/form-data` content type, or null when it is not one. */
export function formBoundary(contentType: string | undefined): string | null {
  if (typeof contentType !== 'string') return null;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return null;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    // RFC 2046: 1 to 70 characters.
    return v.length >= 1 && v.length <= 70 ? v : null;
  }
  return null;
}

/** `%22`, `%0D`, `%0A` as browsers and undici's FormData escape them in quoted names (WHATWG HTML). */
const unescapeQuoted = (s: string): string => s.replace(/\\(.)/g, '$1').replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%22/g, '"');

/** name, filename (filename* wins) from a Content-Disposition value; null unless it is form-data. */
function disposition(value: string): { name: string | null; filename: string | null } | null {
  const semi = value.indexOf(';');
  if ((semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase() !== 'form-data') return null;
  let name: string | null = null;
  let filename: string | null = null;
  let extended = false;
  const re = /;\s*([^\s=;*]+)(\*?)\s*=\s*(?:"((?:[^"\\\r\n]|\\.)*)"|([^;\s]*))/g;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    const key = m[1]!.toLowerCase();
    const raw = m[3] !== undefined ? unescapeQuoted(m[3]) : (m[4] ?? '');
    if (key === 'name') name = raw;
    else if (key === 'filename' && m[2] === '*') {
      // RFC 5987: utf-8''percent-encoded.
      const q = raw.indexOf("''");
      if (q < 0 || raw.slice(0, q).toLowerCase() !== 'utf-8') throw new FormError('invalid_multipart', 'filename* must be utf-8 encoded.');
      try {
        filename = decodeURIComponent(raw.slice(q + 2));
      } catch {
        throw new FormError('invalid_multipart', 'filename* is not valid percent-encoding.');
      }
      extended = true;
    } else if (key === 'filename' && !extended) filename = raw;
  }
  return { name, filename };
}

function partHeaders(text: string): { name: string; filename: string | null; contentType: string } {
  let d: ReturnType<typeof disposition> = null;
  let contentType = '';
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new FormError('invalid_multipart', 'A multipart part has a malformed header line.');
    const h = line.slice(0, colon).trim().toLowerCase();
    const v = line.slice(colon + 1).trim();
    if (h === 'content-disposition') d = disposition(v);
    else if (h === 'content-type') contentType = v;
  }
  if (!d || d.name === null) throw new FormError('invalid_multipart', 'A multipart part has no Content-Disposition: form-data name.');
  return { name: d.name, filename: d.filename, contentType };
}

/** Read the form's layout; throws FormError when the body is not a well-formed form. */
export function parseForm(body: Buffer, boundary: string): ParsedForm {
  const delim = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  const first = body.indexOf(delim);
  if (first < 0) throw new FormError('invalid_multipart', 'The body does not contain the multipart boundary its Content-Type names.');
  const parts: FormPart[] = [];
  let pos = first + delim.length;
  for (;;) {
    // `--` after a delimiter closes the form (anything after it is epilogue).
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return { boundary, parts, closeAt: Math.max(0, pos - delim.length - 2) };
    // Transport padding (RFC 2046) before the line break.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new FormError('invalid_multipart', 'Expected a line break after the multipart boundary.');
    pos += 2;
    if (parts.length >= MAX_PARTS) throw new FormError('invalid_multipart', `A form may have at most ${MAX_PARTS} parts.`);
    // A part with no headers at all has its blank line right here.
    const headEnd = body[pos] === 0x0d && body[pos + 1] === 0x0a ? pos - 2 : body.indexOf(HEADERS_END, pos);
    if (headEnd < 0 || headEnd - pos > MAX_HEADER_BYTES) throw new FormError('invalid_multipart', 'A multipart part\'s headers are missing their end or are too long.');
    const h = partHeaders(headEnd < pos ? '' : body.toString('utf8', pos, headEnd));
    const start = headEnd + HEADERS_END.length;
    const end = body.indexOf(next, start);
    if (end < 0) throw new FormError('invalid_multipart', 'The multipart body ends before its closing boundary.');
    parts.push({ ...h, start, end });
    pos = end + next.length;
  }
}

export type FieldValue = string | string[];

/** Plain fields by name (a repeated name, e.g. `timestamp_granularities[]`, as an array). */
export function formFields(body: Buffer, form: ParsedForm): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const p of form.parts) {
    if (p.filename !== null) continue;
    const v = body.toString('utf8', p.start, p.end);
    const had = out[p.name];
    out[p.name] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/** The form with plain field `name` set to `value`: that part's value spliced, or a part added at the end. */
export function withField(body: Buffer, form: ParsedForm, name: string, value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  // Line breaks are fine in a value; the boundary is not, even inside a line (RFC 2046 allows it
  // there, but loose parsers, undici's among them, cut the part at any occurrence).
  if (v.includes(form.boundary)) throw new FormError('invalid_multipart', `A value for ${name} cannot be written into this form.`);
  const p = form.parts.find((x) => x.name === name && x.filename === null);
  if (p) return Buffer.concat([body.subarray(0, p.start), v, body.subarray(p.end)]);
  const part = Buffer.from(`\r\n--${form.boundary}\r\nContent-Disposition: form-data; name="${name.replace(/"/g, '%22')}"\r\n\r\n`);
  return Buffer.concat([body.subarray(0, form.closeAt), part, v, body.subarray(form.closeAt)]);
}

// The in-place form reader against the platform's own parser (undici's Response#formData()):
// the same fields and files, byte for byte, for forms as the SDKs and curl write them; a
// rewritten field changes that field only.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FormError, formBoundary, formFields, parseForm, withField } from './multipart.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A form as undici's FormData serialises it (the `openai` SDK's own encoding). */
async function encoded(f: FormData): Promise<{ body: Buffer; contentType: string }> {
  const r = new Response(f);
  return { body: Buffer.from(await r.arrayBuffer()), contentType: r.headers.get('content-type')! };
}

/** What the platform reads: plain fields (repeats as arrays) and files by name, type and hash. */
async function platformRead(body: Buffer, contentType: string): Promise<{ fields: Record<string, unknown>; files: Record<string, { name: string; type: string; sha: string }> }> {
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, unknown> = {};
  const files: Record<string, { name: string; type: string; sha: string }> = {};
  for (const [k, v] of form.entries()) {
    if (typeof v !== 'string') {
      files[k] = { name: v.name, type: v.type, sha: sha(new Uint8Array(await v.arrayBuffer())) };
      continue;
    }
    const had = fields[k];
    fields[k] = had === undefined ? v : Array.isArray(had) ? [...(had as unknown[]), v] : [had, v];
  }
  return { fields, files };
}

function ourRead(body: Buffer, contentType: string): { fields: Record<string, unknown>; files: Record<string, { name: string; type: string; sha: string }> } {
  const form = parseForm(body, formBoundary(contentType)!);
  const files: Record<string, { name: string; type: string; sha: string }> = {};
  // A file part naming no type is text/plain to the platform (RFC 7578 §4.4); gatelog records it as sent ('').
  for (const p of form.parts) if (p.filename !== null) files[p.name] = { name: p.filename, type: p.contentType || 'text/plain', sha: sha(body.subarray(p.start, p.end)) };
  return { fields: formFields(body, form), files };
}

const audio = (n: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: n }, (_x, i) => (i * 7919) % 256);

/** Forms written by hand, as curl, Python's httpx and browsers write them. */
const HAND: { name: string; contentType: string; body: string }[] = [
  {
    name: 'curl (quoted boundary, preamble, epilogue)',
    contentType: 'multipart/form-data; boundary="------------------------d74496d66958873e"',
    body: 'preamble\r\n--------------------------d74496d66958873e\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--------------------------d74496d66958873e\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg\r\n\r\nID3\x00\x01--not-a-boundary\r\n\r\n--------------------------d74496d66958873e--\r\nepilogue',
  },
  {
    name: 'short boundary, filename*, escaped quote, no file type',
    contentType: 'Multipart/Form-Data; charset=utf-8; boundary=xYz',
    body: '--xYz\r\ncontent-disposition: form-data; name="say %22hi%22"\r\n\r\nline1\r\nline2\r\n--xYz\r\nContent-Disposition: form-data; name="file"; filename="fallback.wav"; filename*=utf-8\'\'%C3%A9t%C3%A9.wav\r\n\r\n\r\n--xYz\r\nContent-Disposition: form-data; name="t[]"\r\n\r\nword\r\n--xYz\r\nContent-Disposition: form-data; name="t[]"\r\n\r\nsegment\r\n--xYz--',
  },
];

describe('multipart form reading', () => {
  it('reads what undici reads for forms the SDK encodes', async () => {
    const f = new FormData();
    f.append('model', 'gpt-4o-transcribe');
    f.append('prompt', 'Ünïcode "quoted" ✓\r\nsecond line');
    f.append('timestamp_granularities[]', 'word');
    f.append('timestamp_granularities[]', 'segment');
    f.append('file', new Blob([audio(300_000)], { type: 'audio/wav' }), 'my "clip".wav');
    f.append('empty', '');
    const { body, contentType } = await encoded(f);
    expect(ourRead(body, contentType)).toEqual(await platformRead(body, contentType));
    expect(ourRead(body, contentType).fields['prompt']).toBe('Ünïcode "quoted" ✓\r\nsecond line');
  });

  it('reads what undici reads for hand-written forms', async () => {
    for (const c of HAND) {
      const body = Buffer.from(c.body, 'latin1');
      expect(ourRead(body, c.contentType), c.name).toEqual(await platformRead(body, c.contentType));
    }
  });

  it('takes RFC 2046 transport padding after a boundary (which undici refuses)', () => {
    const body = Buffer.from('--b \t\r\nContent-Disposition: form-data; name="model"\r\n\r\nm\r\n--b--');
    expect(formFields(body, parseForm(body, 'b'))).toEqual({ model: 'm' });
  });

  it('refuses what is not a well-formed form', () => {
    expect(formBoundary('application/json')).toBeNull();
    expect(formBoundary('multipart/form-data')).toBeNull();
    expect(formBoundary('multipart/mixed; boundary=x')).toBeNull();
    const bad = [
      ['no boundary in the body', 'hello'],
      ['no closing boundary', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'],
      ['no name', '--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--'],
      ['not form-data', '--b\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--b--'],
      ['no line break after the boundary', '--bX\r\n'],
      ['headers never end', `--b\r\nContent-Disposition: form-data; name="a"${'x'.repeat(20_000)}`],
    ];
    for (const [why, body] of bad) expect(() => parseForm(Buffer.from(body!), 'b'), why).toThrow(FormError);
  });

  it('rewrites one field in place, or adds it, and nothing else', async () => {
    const f = new FormData();
    f.append('model', 'fast');
    f.append('file', new Blob([audio(10_000)], { type: 'audio/wav' }), 'a.wav');
    f.append('language', 'en');
    const { body, contentType } = await encoded(f);
    const form = parseForm(body, formBoundary(contentType)!);
    const out = withField(body, form, 'model', 'whisper-1');
    expect(out.toString('latin1')).toBe(body.toString('latin1').replace('\r\n\r\nfast\r\n', '\r\n\r\nwhisper-1\r\n'));
    const before = await platformRead(body, contentType);
    expect(await platformRead(out, contentType)).toEqual({ ...before, fields: { ...before.fields, model: 'whisper-1' } });

    const g = new FormData();
    g.append('file', new Blob([audio(1000)]), 'b.wav');
    const e = await encoded(g);
    const added = withField(e.body, parseForm(e.body, formBoundary(e.contentType)!), 'model', 'whisper-1');
    const read = await platformRead(added, e.contentType);
    expect(read.fields).toEqual({ model: 'whisper-1' });
    expect(read.files['file']!.sha).toBe(sha(audio(1000)));
    expect(() => withField(body, form, 'model', `x\r\n--${form.boundary}`)).toThrow(FormError);
    expect(() => withField(body, form, 'model', `--${form.boundary}`)).toThrow(FormError);
    // Nor inside a line: undici's parser (like other loose ones) would cut the part there.
    expect(() => withField(body, form, 'model', `x ${form.boundary}`)).toThrow(FormError);
    expect(withField(body, form, 'prompt', 'two\r\nlines').includes('two\r\nlines')).toBe(true);
  });
});

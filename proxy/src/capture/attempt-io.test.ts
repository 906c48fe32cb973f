// attempt_io from an attempt's tap: the tee passes every byte on and hashes all of them, keeps
// a bounded copy; same-as-the-call flags; cap and truncation; redaction modes; scrubbed errors.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createPrivacy, REQUEST_SET_MIN_BYTES, RedactionConfig } from '@gatelog/core';
import { withTopLevel } from '@gatelog/core/json/top-level';
import { AttemptTap, providerRequestId } from './attempt-tap.ts';
import { attemptIo, escapesKept } from './attempt-io.ts';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function through(tap: AttemptTap, chunks: Buffer[], contentType = 'application/json'): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of tap.received(200, { 'content-type': contentType }, Readable.from(chunks))) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('AttemptTap', () => {
  it('passes every byte on unchanged, hashes all of them and keeps at most `keep`', async () => {
    const chunks = [Buffer.from('a'.repeat(100)), Buffer.from('b'.repeat(100)), Buffer.from('c'.repeat(100))];
    const tap = new AttemptTap(150);
    const read = await through(tap, chunks);
    expect(read.equals(Buffer.concat(chunks))).toBe(true);
    expect(tap.responseBytes).toBe(300);
    expect(tap.responseSha256()).toBe(sha(Buffer.concat(chunks)));
    expect(tap.complete).toBe(false);
    expect(tap.responseText()).toBe('a'.repeat(100) + 'b'.repeat(50));
  });

  it('keeps nothing of an event stream that will not be stored, and still hashes it all', async () => {
    const tap = new AttemptTap(1000, 0);
    const read = await through(tap, [Buffer.from('data: {"a":1}\n\n'), Buffer.from('data: [DONE]\n\n')], 'text/event-stream');
    expect(read.toString()).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
    expect(tap.responseText()).toBe('');
    expect(tap.responseSha256()).toBe(sha(read));
    expect(tap.responseBytes).toBe(read.length);
  });

  it('destroying the teed body destroys the upstream body (the upstream request is aborted)', async () => {
    const src = new Readable({ read() { /* never ends */ } });
    const tee = new AttemptTap(10).received(200, {}, src);
    tee.destroy();
    await new Promise((r) => setImmediate(r));
    expect(src.destroyed).toBe(true);
  });

  it('takes the first request id header present, in preference order', () => {
    expect(providerRequestId({ 'cf-ray': 'ray1', 'request-id': 'req_ant' })).toBe('req_ant');
    expect(providerRequestId({ 'x-request-id': 'x1', 'request-id': 'r1' })).toBe('x1');
    expect(providerRequestId({ 'apim-request-id': 'az1' })).toBe('az1');
    expect(providerRequestId({})).toBe('');
  });
});

describe('attemptIo', () => {
  const env = { bodyCap: 1000 };
  it('marks bodies identical to the call\'s as same and stores them once', async () => {
    const tap = new AttemptTap(2000);
    // The client's own buffer, forwarded unchanged.
    tap.clientBody = Buffer.from('{"model":"m"}');
    tap.sent(tap.clientBody);
    await through(tap, [Buffer.from('{"ok":'), Buffer.from('true}')]);
    const [io] = attemptIo([tap], 1, { request: '{"model":"m"}', response: '{"ok":true}' }, env, null);
    expect(io).toMatchObject({ request_same: true, request_body: '', response_same: true, response_body: '', request_bytes: 13, response_bytes: 11, truncated: false });
    expect(io!.request_sha256).toBe(sha('{"model":"m"}'));
    expect(io!.response_sha256).toBe(sha('{"ok":true}'));
    // Equal bytes in another buffer, or a re-serialized string: compared, not assumed.
    const other = new AttemptTap(2000);
    other.clientBody = Buffer.from('{"model":"m"}');
    other.sent(Buffer.from('{"model":"n"}'));
    expect(attemptIo([other], 1, { request: '{"model":"m"}', response: '' }, env, null)[0]).toMatchObject({ request_same: false, request_body: '{"model":"n"}' });
    other.sent('{"model":"m"}');
    expect(attemptIo([other], 1, { request: '{"model":"m"}', response: '' }, env, null)[0]).toMatchObject({ request_same: true, request_body: '' });
  });

  it('stores what differs, capped and flagged; a response kept in part is still compared by hash', async () => {
    const big = 'x'.repeat(3000);
    const tap = new AttemptTap(1500);
    tap.sent('y'.repeat(2000));
    await through(tap, [Buffer.from(big)]);
    const [io] = attemptIo([tap], 1, { request: 'other', response: big }, env, null);
    expect(io).toMatchObject({ request_same: false, response_same: true, response_body: '', truncated: true, request_bytes: 2000, response_bytes: 3000 });
    expect(io!.request_body).toHaveLength(1000);
  });

  it('an audio upload is shown by its fields and a speech answer by nothing: hashed and counted, never stored', async () => {
    const upload = Buffer.concat([Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'), Buffer.alloc(5000, 'RIFF'), Buffer.from('\r\n--b--')]);
    const shown = '{"model":"whisper","file":{"filename":"a.wav","content_type":"","bytes":5000}}';
    const tap = new AttemptTap(100_000);
    tap.clientBody = upload;
    tap.requestShown = shown;
    tap.sent(upload);
    const audio = Buffer.alloc(3000, 'ID3');
    expect((await through(tap, [audio], 'audio/mpeg')).equals(audio)).toBe(true);
    const [io] = attemptIo([tap], 1, { request: shown, response: '{"content_type":"audio/mpeg","bytes":3000}' }, env, null);
    // The client's own bytes went up: "same", nothing stored twice; the audio answer kept nowhere.
    expect(io).toMatchObject({ request_same: true, request_body: '', request_bytes: upload.length, request_sha256: sha(upload), response_body: '', response_bytes: 3000, response_sha256: sha(audio), truncated: false });
    // A form rewritten for another upstream model: its own fields shown, still not its bytes.
    const rewritten = new AttemptTap(100_000);
    rewritten.clientBody = upload;
    rewritten.requestShown = shown.replace('"whisper"', '"whisper-1"');
    rewritten.sent(Buffer.from(upload));
    expect(attemptIo([rewritten], 1, { request: shown, response: '' }, env, null)[0]).toMatchObject({ request_same: false, request_body: rewritten.requestShown, truncated: false });
  });

  it('one element per attempt: an attempt that sent nothing is empty', () => {
    const ios = attemptIo([], 2, { request: '', response: '' }, env, null);
    expect(ios).toHaveLength(2);
    expect(ios[1]).toMatchObject({ request_sha256: '', response_bytes: 0, request_body: '' });
  });

  it('redacts like the call (same placeholders), stores nothing in metadata_only, withholds a redacted raw stream', async () => {
    const privacy = createPrivacy(RedactionConfig.parse({}));
    const t = privacy.treatment({ alias: 'a', keyId: '', keyName: '', requested: null });
    const c = privacy.call();
    expect(c.redact('mail ann@example.com')).toBe('mail [EMAIL_1]');
    const tap = new AttemptTap(2000);
    tap.sent('{"messages":[{"content":"ann@example.com"}]}');
    await through(tap, [Buffer.from('data: {"x":"ann@example.com"}\n\n')], 'text/event-stream');
    const [io] = attemptIo([tap], 1, { request: 'client', response: 'assembled' }, { bodyCap: 1000, privacy }, { t, c });
    expect(io!.request_body).toBe('{"messages":[{"content":"[EMAIL_1]"}]}');
    expect(io!.response_body).toBe('');
    expect(io!.response_bytes).toBeGreaterThan(0);
    const none = privacy.treatment({ alias: 'a', keyId: '', keyName: '', requested: { forward: false, store: 'none' } });
    const [io2] = attemptIo([tap], 1, { request: 'client', response: 'assembled' }, { bodyCap: 1000, privacy }, { t: none, c: privacy.call() });
    expect(io2).toMatchObject({ request_body: '', response_body: '' });
    expect(io2!.request_sha256).toBe(sha('{"messages":[{"content":"ann@example.com"}]}'));
  });

  it('stores a raw stream under redaction when the call had nothing to redact, and a long one in part, flagged', async () => {
    const privacy = createPrivacy(RedactionConfig.parse({}));
    const t = privacy.treatment({ alias: 'a', keyId: '', keyName: '', requested: null });
    const c = privacy.call();
    const raw = 'data: {"choices":[{"delta":{"content":"hello"}}]}\n\ndata: [DONE]\n\n';
    const tap = new AttemptTap(2000);
    tap.sent('{"messages":[{"content":"hi"}]}');
    await through(tap, [Buffer.from(raw)], 'text/event-stream');
    const [io] = attemptIo([tap], 1, { request: 'client', response: 'assembled' }, { bodyCap: 1000, privacy }, { t, c });
    expect(io!.response_body).toBe(raw);
    expect(io!.truncated).toBe(false);
    const part = new AttemptTap(2000, 10);
    part.sent('{}');
    await through(part, [Buffer.from(raw)], 'text/event-stream');
    const [cut] = attemptIo([part], 1, { request: 'client', response: 'assembled' }, { bodyCap: 1000, privacy }, { t, c: privacy.call() });
    expect(cut!.response_body).toBe(raw.slice(0, 10));
    expect(cut!.truncated).toBe(true);
    expect(cut!.response_sha256).toBe(sha(raw));
  });

  it('scrubs a stored error answer with the provider scrubber', async () => {
    const tap = new AttemptTap(2000);
    tap.scrub = (s) => s.replaceAll('sk-secret', '[redacted]');
    tap.sent('{}');
    const out: Buffer[] = [];
    for await (const b of tap.received(401, {}, Readable.from([Buffer.from('{"error":"bad key sk-secret"}')]))) out.push(b as Buffer);
    const [io] = attemptIo([tap], 1, { request: '', response: '' }, env, null);
    expect(io!.response_body).toBe('{"error":"bad key [redacted]"}');
    expect(io!.response_sha256).toBe(sha('{"error":"bad key sk-secret"}'));
  });
});

describe('attemptIo: a request routing re-serialised', () => {
  // As routes/openai.ts sends an aliased stream: the client's JSON with the deployment's model
  // and stream_options set, re-serialised; the call's own bodies are scanned first (toEvent).
  function call(client: string, o: { custom?: boolean; cap?: number; translated?: boolean } = {}) {
    const base = createPrivacy(RedactionConfig.parse(o.custom ? { custom: [{ name: 'TICKET', pattern: 'TCK-[0-9]{6}' }] } : {}));
    const stored = vi.fn(base.stored);
    const privacy = { ...base, stored };
    const t = privacy.treatment({ alias: 'fast', keyId: '', keyName: '', requested: null });
    const c = privacy.call();
    privacy.stored(t, c, { request: client, response: '{"choices":[]}', error: '' }, o.cap ?? 10_000);
    const json = JSON.parse(client) as Record<string, unknown>;
    json['model'] = 'gpt-4o-mini';
    json['stream_options'] = { include_usage: true };
    const derived = JSON.stringify(json);
    const tap = new AttemptTap(20_000);
    tap.derived = derived;
    // A translating adapter sends a text of its own.
    const sent = o.translated ? JSON.stringify({ ...json, max_completion_tokens: 5 }) : derived;
    tap.sent(sent);
    stored.mockClear();
    const [io] = attemptIo([tap], 1, { request: client, response: '{"choices":[]}' }, { bodyCap: o.cap ?? 10_000, privacy }, { t, c });
    const scanned = stored.mock.calls.map((args) => args[2].request);
    return { io: io!, sent, scanned };
  }
  const clean = '{"model":"fast","messages":[{"role":"user","content":"Say \\"hi\\"\\nplease"}],"stream":true}';

  it('is stored as sent without a second scan when the client\'s text held nothing to redact', () => {
    const r = call(clean);
    expect(r.io.request_body).toBe(r.sent);
    expect(r.io.request_sha256).toBe(sha(r.sent));
    expect(r.io.request_same).toBe(false);
    expect(r.scanned).toEqual(['']);
  });

  it('is scanned when the client escaped a character the re-serialisation writes out (ann\\u0040example.com)', () => {
    const r = call('{"model":"fast","messages":[{"role":"user","content":"write to ann\\u0040example.com"}]}');
    expect(r.sent).toContain('ann@example.com');
    expect(r.io.request_body).toContain('[EMAIL_1]');
    expect(r.io.request_body).not.toContain('ann@example.com');
  });

  it('is scanned, with the call\'s placeholders, when the call held something to redact', () => {
    const r = call('{"model":"fast","messages":[{"role":"user","content":"mail ann@example.com"}]}');
    expect(r.io.request_body).toContain('"mail [EMAIL_1]"');
    expect(r.scanned).toEqual([r.sent]);
  });

  it('is scanned with custom patterns (they may span strings), a translated text, or a client text over the cap', () => {
    expect(call(clean, { custom: true }).scanned).toEqual([expect.stringContaining('gpt-4o-mini')]);
    const translated = call(clean, { translated: true });
    expect(translated.scanned).toEqual([translated.sent]);
    expect(call(clean, { cap: 40 }).scanned).toEqual([expect.stringContaining('gpt-4o-mini')]);
  });

  it('escapesKept: only escapes JSON.stringify writes back the same', () => {
    expect(escapesKept('{"a":"x\\"y\\\\z\\n\\r\\t\\b\\f"}')).toBe(true);
    expect(escapesKept('{"a":"\\u0041"}')).toBe(false);
    expect(escapesKept('{"a":"a\\/b"}')).toBe(false);
    expect(escapesKept('{"a":"\\\\u0041"}')).toBe(true);
    const text = '{"a":"x\\"y\\\\z\\n\\r\\t\\b\\f"}';
    expect(JSON.stringify(JSON.parse(text))).toBe(text);
  });
});

describe('attemptIo: a long request routing set top-level fields in (request_set)', () => {
  const long = `{"model":"fast","messages":[{"role":"user","content":"${'a long conversation \\"quoted\\" café '.repeat(1500)}"}],"stream":true}`;
  const set = { model: '"gpt-4o-mini"', stream_options: '{"include_usage":true}' };
  function tapFor(client: string): AttemptTap {
    const tap = new AttemptTap(200_000);
    tap.derived = withTopLevel(client, set)!;
    tap.derivedSet = set;
    tap.sent(tap.derived);
    return tap;
  }

  it('carries the fields instead of the text, with the sent bytes\' size and hash', () => {
    expect(long.length).toBeGreaterThanOrEqual(REQUEST_SET_MIN_BYTES);
    const tap = tapFor(long);
    const [io] = attemptIo([tap], 1, { request: long, response: '', stored: long }, { bodyCap: 1 << 20 }, null);
    expect(io).toMatchObject({ request_same: false, request_body: '', request_set: set, request_bytes: Buffer.byteLength(tap.derived!), truncated: false });
    expect(io!.request_sha256).toBe(sha(tap.derived!));
    // What ingest writes back is what was sent.
    expect(withTopLevel(long, io!.request_set!)).toBe(tap.derived);
  });

  it('sends the derived text\'s bytes when routing made them, and sizes and hashes those', () => {
    const tap = new AttemptTap(200_000);
    tap.derived = withTopLevel(long, set)!;
    const bytes = Buffer.from(tap.derived);
    tap.derivedBytes = bytes;
    expect(tap.sent(tap.derived)).toBe(bytes);
    expect(tap.sent('{"other":1}')).toBe('{"other":1}');
    tap.sent(tap.derived);
    const [io] = attemptIo([tap], 1, { request: long, response: '' }, { bodyCap: 1 << 20 }, null);
    expect(io).toMatchObject({ request_bytes: bytes.length, request_sha256: sha(bytes), request_body: tap.derived });
  });

  it('stores the text when the request is short, the event\'s request_body is not the client\'s whole text, the body is over the cap, or the text was re-serialised', () => {
    const short = '{"model":"fast","messages":[],"stream":true}';
    const shortTap = tapFor(short);
    expect(attemptIo([shortTap], 1, { request: short, response: '', stored: short }, { bodyCap: 1 << 20 }, null)[0]).toMatchObject({ request_body: shortTap.derived });
    const tap = tapFor(long);
    for (const stored of [undefined, long.slice(0, 40_000), '[redacted]']) {
      const [io] = attemptIo([tap], 1, { request: long, response: '', stored }, { bodyCap: 1 << 20 }, null);
      expect(io!.request_set).toBeUndefined();
      expect(io!.request_body).toBe(tap.derived);
    }
    const [capped] = attemptIo([tap], 1, { request: long, response: '', stored: long }, { bodyCap: 40_000 }, null);
    expect(capped!.request_set).toBeUndefined();
    expect(capped!.truncated).toBe(true);
    // A client's own stream_options past the schema's bound stays in the text.
    const huge = { ...set, stream_options: `{"pad":"${'x'.repeat(70_000)}","include_usage":true}` };
    const hugeTap = new AttemptTap(400_000);
    hugeTap.derived = withTopLevel(long, huge)!;
    hugeTap.derivedSet = huge;
    hugeTap.sent(hugeTap.derived);
    expect(attemptIo([hugeTap], 1, { request: long, response: '', stored: long }, { bodyCap: 1 << 20 }, null)[0]).toMatchObject({ request_body: hugeTap.derived });
    const reserialised = tapFor(long);
    reserialised.derivedSet = null;
    expect(attemptIo([reserialised], 1, { request: long, response: '', stored: long }, { bodyCap: 1 << 20 }, null)[0]!.request_set).toBeUndefined();
  });

  it('carries the fields over the redacted request_body when the call held something to redact, unless the fields hold something themselves', () => {
    const privacy = createPrivacy(RedactionConfig.parse({}));
    const t = privacy.treatment({ alias: 'fast', keyId: '', keyName: '', requested: null });
    const client = long.replace('a long conversation', 'mail ann@example.com');
    const c = privacy.call();
    const s = privacy.stored(t, c, { request: client, response: '', error: '' }, 1 << 20);
    expect(s.request).toContain('[EMAIL_1]');
    const tap = tapFor(client);
    const [io] = attemptIo([tap], 1, { request: client, response: '', stored: s.request }, { bodyCap: 1 << 20, privacy }, { t, c });
    expect(io).toMatchObject({ request_body: '', request_set: set, request_bytes: Buffer.byteLength(tap.derived!) });
    // What ingest writes back is the sent text as redaction stores it.
    const alone = privacy.call();
    privacy.stored(t, alone, { request: client, response: '', error: '' }, 1 << 20);
    expect(withTopLevel(s.request, io!.request_set!)).toBe(privacy.stored(t, alone, { request: tap.derived!, response: '', error: '' }, 1 << 20).request);
    // Something found only in the response: the client's request stored as it is carries the set.
    const e = privacy.call();
    const se = privacy.stored(t, e, { request: long, response: '{"a":"mail eve@example.com"}', error: '' }, 1 << 20);
    expect(se.request).toBe(long);
    const [answered] = attemptIo([tapFor(long)], 1, { request: long, response: '', stored: se.request }, { bodyCap: 1 << 20, privacy }, { t, c: e });
    expect(answered).toMatchObject({ request_body: '', request_set: set });
    // A field routing set that holds something to redact: the sent text is redacted and stored.
    const own = { ...set, stream_options: '{"include_usage":true,"note":"bob@example.com"}' };
    const ownTap = new AttemptTap(200_000);
    ownTap.derived = withTopLevel(client, own)!;
    ownTap.derivedSet = own;
    ownTap.sent(ownTap.derived);
    const d = privacy.call();
    const sd = privacy.stored(t, d, { request: client, response: '', error: '' }, 1 << 20);
    const [withOwn] = attemptIo([ownTap], 1, { request: client, response: '', stored: sd.request }, { bodyCap: 1 << 20, privacy }, { t, c: d });
    expect(withOwn!.request_set).toBeUndefined();
    expect(withOwn!.request_body).toContain('[EMAIL_1]');
    expect(withOwn!.request_body).toContain('[EMAIL_2]');
  });
});

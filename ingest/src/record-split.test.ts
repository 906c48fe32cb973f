// The byte walk (record-split.ts) gives what the parse path gives, read as JSON, on events of
// every shape the parse path takes — escapes of every kind, characters beyond the BMP, lone
// surrogates, pretty-printed bodies, request_set in every position — and leaves to the parse
// path what it cannot be sure of.
import { describe, expect, it } from 'vitest';
import { reconstruct, partsOf } from '@gatelog/core/store/blocks';
import { splitParsed, splitRecord } from './body-blocks.ts';
import { splitRecordBytes } from './record-split.ts';
import { rng } from '../../test/support/rng.ts';

const PIECES = ['plain words ', '"quoted" ', 'back\\slash ', 'line\nbreak\t', 'ctl\u0001\u001f ', 'café ', '中文 ', '😀 ', '\ud800 lone ', 'lone \udfff ', 'a/b ', '{"json":[1,2]} ', '\u2028\u2029 '];

function text(r: () => number, bytes: number): string {
  let s = '';
  while (s.length < bytes) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

/** Lone surrogates written into a body as characters, not escapes: such a record is the parse path's. */
let lone = false;

function body(r: () => number, kb: number): string {
  const messages = [];
  for (let n = 0; n < kb * 1024; ) {
    const content = text(r, 200 + Math.floor(r() * 3000));
    messages.push(r() < 0.3 ? { role: 'user', content: [{ type: 'text', text: content }, { type: 'text', text: 'short' }] } : { role: r() < 0.5 ? 'user' : 'assistant', content });
    n += content.length;
  }
  const o = { model: 'gpt-4o', messages, temperature: 0.2, n: 12345678901234567891 };
  const json = r() < 0.3 ? JSON.stringify(o, null, r() < 0.5 ? 1 : '\t') : JSON.stringify(o);
  // Some with lone surrogates as characters of the text (JSON.stringify wrote them as escapes):
  // the record then carries them as \uXXXX escapes of its own.
  if (r() >= 0.15) return json;
  lone = true;
  return json.replaceAll('\\ud800', '\ud800').replaceAll('\\udfff', '\udfff');
}

/** The record's JSON with every character beyond ASCII in request_body escaped as \uXXXX (another producer's encoder). */
function asciiEscaped(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const SET = { model: '"gpt-4o-2024-08-06"', stream_options: '{"include_usage":true}' };

function attempts(r: () => number, b: string): unknown[] | undefined {
  const k = Math.floor(r() * 8);
  const io = { provider_request_id: 'p', request_same: false, request_body: '', request_parts: [], request_bytes: 1, request_sha256: 'x', truncated: false };
  switch (k) {
    case 0: return undefined;
    case 1: return [{ ...io, request_same: true }];
    case 2: return [{ ...io, request_body: b.replace('gpt-4o', 'gpt-4o-mini') }];
    case 3: return [{ ...io, request_set: SET }];
    case 4: return [{ request_set: SET, ...io }, { ...io, request_same: true }];
    case 5: return [{ request_set: { model: 7 } }, { request_set: SET }];
    case 6: return [{ truncated: false, request_set: SET }, null, 5, 'x'];
    default: return [{ request_body: 'small', request_set: { 'm\u00f6del': '"x"' } }];
  }
}

/** A record, and whether the byte walk must take it (false: it may leave it to the parse path). */
function record(r: () => number): { rec: Buffer; sure: boolean } {
  lone = false;
  const b = body(r, 34 + Math.floor(r() * 60));
  const io = attempts(r, b);
  const foreignName = io?.some((a) => JSON.stringify(a).includes('\u00f6')) ?? false;
  const e: Record<string, unknown> = {
    request_id: '0192f0c4-5b6e-7a00-8000-000000000001', team: r() < 0.2 ? 'clinical' : 'web', started_at: '2026-12-06T10:00:00.000Z',
    request_body: r() < 0.1 ? '' : b, ...(r() < 0.8 ? { request_parts: [] } : {}), response_body: '{"ok":true}', big: 12345678901234567891,
    ...(io ? { attempt_io: io } : {}),
  };
  const json = JSON.stringify(e, null, r() < 0.2 ? 1 : undefined);
  return { rec: Buffer.from(r() < 0.2 ? asciiEscaped(json) : json), sure: !lone && !foreignName };
}

const asJson = (b: Buffer): unknown => JSON.parse(b.toString('utf8'));
const sorted = <T extends { hash: string }>(xs: T[]): T[] => [...xs].sort((x, y) => (x.hash < y.hash ? -1 : 1));

describe('block split on the record bytes', () => {
  it('answers as the parse path does, on 300 varied events', () => {
    const r = rng(18);
    let split = 0, unsure = 0;
    for (let n = 0; n < 300; n++) {
      const { rec, sure } = record(r);
      const teams = r() < 0.5 ? ['clinical'] : [];
      const min = r() < 0.2 ? 64 * 1024 : 32 * 1024;
      const want = splitParsed(rec, min, teams);
      const got = splitRecordBytes(rec, min, teams);
      if (got === undefined) {
        expect(sure, `record ${n}`).toBe(false);
        unsure++;
        continue;
      }
      expect(got === null, `record ${n}`).toBe(want === null);
      if (!got || !want) continue;
      split++;
      expect(asJson(got.record), `record ${n}`).toEqual(asJson(want.record));
      expect(sorted(got.blocks)).toEqual(sorted(want.blocks));
    }
    expect(split).toBeGreaterThan(150);
    expect(unsure).toBeGreaterThan(0);
  });

  it('keeps the record\'s own bytes outside the bodies (a number the parse path would round)', () => {
    const r = rng(7);
    const b = body(r, 40);
    const rec = Buffer.from(JSON.stringify({ request_id: 'x', request_body: b, request_parts: [], big: 1 }).replace('"big":1', '"big":12345678901234567891'));
    const got = splitRecordBytes(rec, 32 * 1024, [])!;
    expect(got.record.toString()).toContain('"big":12345678901234567891');
    const e = asJson(got.record) as { request_body: string; request_parts: { at: number; hash: string }[] };
    expect(reconstruct(e.request_body, partsOf(e.request_parts), new Map(got.blocks.map((x) => [x.hash, x.data.toString()])))).toBe(b);
  });

  it('leaves to the parse path what it cannot be sure of, and splitRecord still answers', () => {
    const b = body(rng(3), 40);
    const dup = Buffer.from(`{"request_body":${JSON.stringify(b)},"request_body":${JSON.stringify(b)}}`);
    const escapedKey = Buffer.from(`{"request\\u005fbody":${JSON.stringify(b)}}`);
    const notUtf8 = Buffer.concat([Buffer.from(`{"request_body":${JSON.stringify(b)},"x":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const badEscape = Buffer.from(`{"request_body":${JSON.stringify(b).slice(0, -1)}\\q"}`);
    for (const rec of [dup, escapedKey, notUtf8, badEscape]) {
      expect(splitRecordBytes(rec, 32 * 1024, [])).toBeUndefined();
      expect(splitRecord(rec)).toEqual(splitParsed(rec));
    }
    // Not JSON at all: stored as it came, by either path.
    expect(splitRecord(Buffer.from(`[${JSON.stringify(b)}]`))).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { SseSplitter, type SseEvent } from './sse.ts';

function run(pieces: Buffer[]): SseEvent[] {
  const s = new SseSplitter();
  const out: SseEvent[] = [];
  for (const p of pieces) s.push(p, (e) => out.push(e));
  s.flush((e) => out.push(e));
  return out;
}

/** Cut a buffer into pieces of n bytes. */
function cut(buf: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += n) out.push(buf.subarray(i, i + n));
  return out;
}

const STREAM = 'data: {"a":"héllo 🌍"}\n\ndata: {"b":"wörld ✓"}\n\n: keep-alive comment\n\ndata: [DONE]\n\n';

describe('SseSplitter', () => {
  it('splits events and keeps their exact bytes', () => {
    const evs = run([Buffer.from(STREAM)]);
    expect(evs.map((e) => e.data)).toEqual(['{"a":"héllo 🌍"}', '{"b":"wörld ✓"}', null, '[DONE]']);
    expect(Buffer.concat(evs.map((e) => e.raw)).toString()).toBe(STREAM);
  });

  it.each([1, 2, 3, 5, 7, 13])('gives the same events however the bytes are cut (%i-byte pieces, splitting lines and UTF-8)', (n) => {
    const whole = run([Buffer.from(STREAM)]);
    const pieces = run(cut(Buffer.from(STREAM), n));
    expect(pieces.map((e) => e.data)).toEqual(whole.map((e) => e.data));
    expect(Buffer.concat(pieces.map((e) => e.raw)).toString()).toBe(STREAM);
  });

  it('handles CRLF line endings and multi-line data', () => {
    const evs = run([Buffer.from('event: x\r\ndata: line1\r\ndata:line2\r\n\r\n')]);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.data).toBe('line1\nline2');
  });

  it('delivers a trailing event with no blank line and no [DONE]', () => {
    const evs = run([Buffer.from('data: {"x":1}\n\ndata: {"y":2}')]);
    expect(evs.map((e) => e.data)).toEqual(['{"x":1}', '{"y":2}']);
    expect(evs[1]!.raw.toString()).toBe('data: {"y":2}');
  });

  it('nothing pending after a clean end', () => {
    const s = new SseSplitter();
    s.push(Buffer.from('data: 1\n\n'), () => undefined);
    expect(s.hasPending).toBe(false);
    s.push(Buffer.from('data: 2\n'), () => undefined);
    expect(s.hasPending).toBe(true);
  });
});

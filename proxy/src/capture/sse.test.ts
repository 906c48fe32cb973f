import { describe, expect, it } from 'vitest';
import { MAX_SSE_EVENT_BYTES, SseEventTooLargeError, SseSplitter, isSseEventTooLarge, type SseEvent } from './sse.ts';

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

  it('bare CR and CRLF cut between reads: same events and every byte kept, at every split point', () => {
    const text = Buffer.from('event: a\r\ndata: ü€👋\r\n\r\n: c\rdata: b\r\rdata: c\n\n');
    const whole = run([text]);
    expect(whole.filter((e) => e.data !== null).map((e) => [e.event, e.data])).toEqual([['a', 'ü€👋'], [undefined, 'b'], [undefined, 'c']]);
    for (let i = 0; i <= text.length; i++) {
      const evs = run([text.subarray(0, i), text.subarray(i)]);
      expect(evs.filter((e) => e.data !== null).map((e) => [e.event, e.data])).toEqual([['a', 'ü€👋'], [undefined, 'b'], [undefined, 'c']]);
      expect(Buffer.concat(evs.map((e) => e.raw)).equals(text)).toBe(true);
    }
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

describe('SseSplitter bounds', () => {
  it('joins an event that spans many chunks once: linear time (8 MB in 1 KB pieces)', () => {
    const s = new SseSplitter(Infinity);
    const piece = Buffer.alloc(1024, 0x61);
    const out: SseEvent[] = [];
    const t0 = performance.now();
    s.push(Buffer.from('data: '), (e) => out.push(e));
    for (let i = 0; i < 8 * 1024; i++) s.push(piece, (e) => out.push(e));
    s.push(Buffer.from('\n\n'), (e) => out.push(e));
    // Re-joining the pending bytes on every push copies ~32 GB here and takes minutes.
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(out).toHaveLength(1);
    expect(out[0]!.data!.length).toBe(8 * 1024 * 1024);
    expect(out[0]!.raw.length).toBe(8 * 1024 * 1024 + 8);
  });

  it('refuses an event larger than its bound, whether cut in pieces or in one chunk', () => {
    const small = new SseSplitter(100);
    small.push(Buffer.from('data: ok\n\n'), () => undefined);
    expect(() => small.push(Buffer.alloc(101, 0x61), () => undefined)).toThrow(SseEventTooLargeError);
    const lines = new SseSplitter(100);
    const e = (() => {
      try {
        for (let i = 0; i < 20; i++) lines.push(Buffer.from('data: 0123456789\n'), () => undefined);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(isSseEventTooLarge(e)).toBe(true);
    expect(MAX_SSE_EVENT_BYTES).toBe(16 * 1024 * 1024);
  });
});

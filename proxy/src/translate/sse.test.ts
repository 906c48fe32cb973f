import { describe, expect, it } from 'vitest';
import { SseParser, sseFrame, type SseEvent } from './sse.ts';
import { MAX_SSE_EVENT_BYTES, SseEventTooLargeError } from '../capture/sse.ts';

function parseChunks(chunks: (string | Buffer)[]): SseEvent[] {
  const p = new SseParser();
  const out = chunks.flatMap((c) => p.push(typeof c === 'string' ? Buffer.from(c) : c));
  return [...out, ...p.end()];
}

describe('SseParser', () => {
  const cases: { name: string; chunks: (string | Buffer)[]; want: SseEvent[] }[] = [
    { name: 'LF', chunks: ['event: a\ndata: {"x":1}\n\n'], want: [{ event: 'a', data: '{"x":1}' }] },
    { name: 'CRLF', chunks: ['data: 1\r\n\r\ndata: 2\r\n\r\n'], want: [{ event: undefined, data: '1' }, { event: undefined, data: '2' }] },
    { name: 'bare CR', chunks: ['data: 1\r\rdata: 2\r\r'], want: [{ event: undefined, data: '1' }, { event: undefined, data: '2' }] },
    { name: 'CRLF split across chunks', chunks: ['data: 1\r', '\n\r', '\ndata: 2\r\n\r\n'], want: [{ event: undefined, data: '1' }, { event: undefined, data: '2' }] },
    { name: 'multi-line data joined by LF', chunks: ['data: a\ndata: b\n\n'], want: [{ event: undefined, data: 'a\nb' }] },
    { name: 'comments and unknown fields ignored', chunks: [': ping\nid: 3\nretry: 10\ndata:x\n\n'], want: [{ event: undefined, data: 'x' }] },
    { name: 'event without data is not dispatched', chunks: ['event: lonely\n\ndata: y\n\n'], want: [{ event: undefined, data: 'y' }] },
    { name: 'last event missing its blank line', chunks: ['data: tail'], want: [{ event: undefined, data: 'tail' }] },
    { name: 'UTF-8 split inside a 4-byte character', chunks: [Buffer.from('data: 👋\n\n').subarray(0, 8), Buffer.from('data: 👋\n\n').subarray(8)], want: [{ event: undefined, data: '👋' }] },
  ];
  it.each(cases)('$name', ({ chunks, want }) => {
    expect(parseChunks(chunks)).toEqual(want);
  });

  it('gives identical events for every single split point', () => {
    const text = Buffer.from('event: a\r\ndata: ü€👋\r\n\r\n: c\ndata: b\n\n');
    const whole = parseChunks([text]);
    expect(whole).toHaveLength(2);
    for (let i = 0; i <= text.length; i++) expect(parseChunks([text.subarray(0, i), text.subarray(i)])).toEqual(whole);
  });

  it('frames events', () => {
    expect(sseFrame('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(sseFrame('{}', 'ping')).toBe('event: ping\ndata: {}\n\n');
  });
});

describe('SseParser bounds', () => {
  it('is linear in a line that spans many pushes, and refuses an event past MAX_SSE_EVENT_BYTES', () => {
    const p = new SseParser();
    const piece = new Uint8Array(64 * 1024).fill(0x61);
    const t0 = performance.now();
    p.push(new TextEncoder().encode('data: '));
    for (let i = 0; i < 128; i++) p.push(piece); // 8 MiB, one line
    const [ev] = p.push(new TextEncoder().encode('\n\n'));
    expect(ev!.data.length).toBe(8 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(3000);
    const q = new SseParser();
    q.push(new TextEncoder().encode('data: '));
    expect(() => {
      for (let i = 0; i <= MAX_SSE_EVENT_BYTES / piece.length; i++) q.push(piece);
    }).toThrow(SseEventTooLargeError);
  });
});

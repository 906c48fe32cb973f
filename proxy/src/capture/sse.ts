// Incremental SSE splitter over raw bytes. Lines are cut at LF bytes (0x0a never occurs
// inside a multi-byte UTF-8 sequence), so decoding whole lines is UTF-8 safe however the
// upstream splits its TCP writes. Each event is handed over with its exact raw bytes so a
// filtering forwarder can pass it through untouched or drop it.

export interface SseEvent {
  /** Exact bytes of the event, terminating blank line included. */
  raw: Buffer;
  /** `data:` lines joined by "\n"; null when the event has no data field (comments, ids). */
  data: string | null;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

function isDataField(buf: Buffer, start: number, end: number): boolean {
  return (
    end - start >= 5 &&
    buf[start] === 0x64 && // d
    buf[start + 1] === 0x61 && // a
    buf[start + 2] === 0x74 && // t
    buf[start + 3] === 0x61 && // a
    buf[start + 4] === COLON
  );
}

export class SseSplitter {
  /** Bytes of an event not yet terminated, carried to the next push. */
  private pending: Buffer | null = null;

  /** Feed bytes; calls `emit` for every event completed by them, in order. */
  push(chunk: Buffer, emit: (ev: SseEvent) => void): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let evStart = 0;
    let pos = 0;
    let data: string | null = null;
    for (;;) {
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) break;
      let end = nl;
      if (end > pos && buf[end - 1] === CR) end--;
      if (end === pos) {
        if (nl + 1 - evStart > 1 || data !== null) emit({ raw: buf.subarray(evStart, nl + 1), data });
        evStart = nl + 1;
        data = null;
      } else if (isDataField(buf, pos, end)) {
        const from = buf[pos + 5] === SPACE ? pos + 6 : pos + 5;
        const line = buf.toString('utf8', from, end);
        data = data === null ? line : `${data}\n${line}`;
      }
      pos = nl + 1;
    }
    if (evStart < buf.length) this.pending = buf.subarray(evStart);
  }

  /** End of stream: an unterminated trailing event is still delivered (no blank line after it). */
  flush(emit: (ev: SseEvent) => void): void {
    const rest = this.pending;
    this.pending = null;
    if (!rest || rest.length === 0) return;
    // Terminate it so the normal path parses it; the raw bytes stay exactly what was received.
    const withEnd = Buffer.concat([rest, Buffer.from('\n\n')]);
    this.push(withEnd, (ev) => emit({ raw: rest, data: ev.data }));
  }

  get hasPending(): boolean {
    return this.pending !== null;
  }
}

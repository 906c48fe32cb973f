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

/**
 * Largest SSE event accepted from an upstream (16 MiB: far above any real chunk, a Responses
 * `response.completed` event included). A longer one fails the call cleanly (an error event to
 * the client, recorded as `upstream_event_too_large`) instead of growing without limit.
 */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

export const SSE_EVENT_TOO_LARGE = 'GATELOG_SSE_EVENT_TOO_LARGE';

export class SseEventTooLargeError extends Error {
  readonly code = SSE_EVENT_TOO_LARGE;
  constructor(max: number) {
    super(`an upstream stream event exceeded ${max} bytes`);
  }
}

export const isSseEventTooLarge = (err: unknown): err is SseEventTooLargeError =>
  (err as { code?: unknown } | null)?.code === SSE_EVENT_TOO_LARGE;

/**
 * Linear in the bytes fed, however an upstream cuts them: an event that spans chunks is kept
 * as a list of pieces and joined once, when it ends (never re-joined on every chunk).
 */
export class SseSplitter {
  /** Pieces of the event not yet terminated, carried from earlier pushes. */
  private carried: Buffer[] = [];
  private carriedBytes = 0;
  /** The tail of `carried` that is the current, unterminated line. */
  private line: Buffer[] = [];
  /** `data:` lines of the current event that started in an earlier push. */
  private data: string | null = null;

  private readonly maxEventBytes: number;

  constructor(maxEventBytes = MAX_SSE_EVENT_BYTES) {
    this.maxEventBytes = maxEventBytes;
  }

  /** Feed bytes; calls `emit` for every event completed by them, in order. Throws SseEventTooLargeError past the bound. */
  push(chunk: Buffer, emit: (ev: SseEvent) => void): void {
    let evStart = 0;
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) break;
      if (this.carriedBytes + nl + 1 - evStart > this.maxEventBytes) throw new SseEventTooLargeError(this.maxEventBytes);
      let buf = chunk;
      let start = pos;
      if (this.line.length > 0) {
        // A line that began in an earlier push: joined once, now that it ends.
        buf = Buffer.concat([...this.line, chunk.subarray(pos, nl + 1)]);
        this.line = [];
        start = 0;
      }
      let end = buf === chunk ? nl : buf.length - 1;
      if (end > start && buf[end - 1] === CR) end--;
      if (end === start) {
        const raw = this.carried.length > 0 ? Buffer.concat([...this.carried, chunk.subarray(0, nl + 1)]) : chunk.subarray(evStart, nl + 1);
        if (raw.length > 1 || this.data !== null) emit({ raw, data: this.data });
        this.carried = [];
        this.carriedBytes = 0;
        evStart = nl + 1;
        this.data = null;
      } else if (isDataField(buf, start, end)) {
        const from = buf[start + 5] === SPACE ? start + 6 : start + 5;
        const line = buf.toString('utf8', from, end);
        this.data = this.data === null ? line : `${this.data}\n${line}`;
      }
      pos = nl + 1;
    }
    if (evStart < chunk.length) {
      if (this.carriedBytes + chunk.length - evStart > this.maxEventBytes) throw new SseEventTooLargeError(this.maxEventBytes);
      this.carried.push(chunk.subarray(evStart));
      this.carriedBytes += chunk.length - evStart;
      if (pos < chunk.length) this.line.push(chunk.subarray(pos));
    }
  }

  /** End of stream: an unterminated trailing event is still delivered (no blank line after it). */
  flush(emit: (ev: SseEvent) => void): void {
    if (this.carriedBytes === 0) return;
    const rest = Buffer.concat(this.carried);
    this.carried = [];
    this.carriedBytes = 0;
    this.line = [];
    this.data = null;
    // Terminate it so the normal path parses it; the raw bytes stay exactly what was received.
    const withEnd = Buffer.concat([rest, Buffer.from('\n\n')]);
    new SseSplitter(Infinity).push(withEnd, (ev) => emit({ raw: rest, data: ev.data }));
  }

  get hasPending(): boolean {
    return this.carriedBytes > 0;
  }
}

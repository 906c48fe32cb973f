// The proxy's one server-sent-events parser, over raw bytes (capture, filtering, and the
// translators through translate/sse.ts). Follows
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation:
// LF, CRLF or bare CR line ends (a CRLF cut between two reads stays one line end), `data:` lines
// joined by "\n", `event:`, comments and other fields ignored. Lines are cut at CR/LF bytes
// (never inside a multi-byte UTF-8 sequence), so decoding whole lines is UTF-8 safe however the
// upstream splits its TCP writes. Each event is handed over with its exact raw bytes so a
// filtering forwarder can pass it through untouched or drop it.

export interface SseEvent {
  /** Exact bytes of the event, terminating blank line included. */
  raw: Buffer;
  /** `data:` lines joined by "\n"; null when the event has no data field (comments, ids). */
  data: string | null;
  /** The `event:` field, if any. */
  event: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

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
  private event: string | undefined = undefined;
  /** The last push ended on a CR: an LF first in the next one completes that CRLF. */
  private skipLf = false;

  private readonly maxEventBytes: number;

  constructor(maxEventBytes = MAX_SSE_EVENT_BYTES) {
    this.maxEventBytes = maxEventBytes;
  }

  /** Feed bytes; calls `emit` for every event completed by them, in order. Throws SseEventTooLargeError past the bound. */
  push(chunk: Buffer, emit: (ev: SseEvent) => void): void {
    if (chunk.length === 0) return;
    let evStart = 0;
    let pos = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (chunk[0] === LF) pos = 1;
    }
    // Next LF and CR at or after `pos` (-1: none left in this chunk): each searched forward once.
    let lf = -2;
    let cr = -2;
    for (;;) {
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
      const eol = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (eol === -1) break;
      let next = eol + 1;
      if (chunk[eol] === CR) {
        if (eol + 1 < chunk.length) {
          if (chunk[eol + 1] === LF) next = eol + 2;
        } else this.skipLf = true;
      }
      if (this.carriedBytes + next - evStart > this.maxEventBytes) throw new SseEventTooLargeError(this.maxEventBytes);
      let buf = chunk;
      let start = pos;
      let end = eol;
      if (this.line.length > 0) {
        // A line that began in an earlier push: joined once, now that it ends.
        buf = Buffer.concat([...this.line, chunk.subarray(pos, eol)]);
        this.line = [];
        start = 0;
        end = buf.length;
      }
      if (end === start) {
        const raw = this.carried.length > 0 ? Buffer.concat([...this.carried, chunk.subarray(0, next)]) : chunk.subarray(evStart, next);
        if (raw.length > 1 || this.data !== null) emit({ raw, data: this.data, event: this.event });
        this.carried = [];
        this.carriedBytes = 0;
        evStart = next;
        this.data = null;
        this.event = undefined;
      } else this.field(buf, start, end);
      pos = next;
    }
    if (evStart < chunk.length) {
      if (this.carriedBytes + chunk.length - evStart > this.maxEventBytes) throw new SseEventTooLargeError(this.maxEventBytes);
      this.carried.push(chunk.subarray(evStart));
      this.carriedBytes += chunk.length - evStart;
      if (pos < chunk.length) this.line.push(chunk.subarray(pos));
    }
  }

  /** One non-blank line: a `data` or `event` field is kept; comments and other fields are ignored. */
  private field(buf: Buffer, start: number, end: number): void {
    // Only `data` and `event` matter: the name is checked byte by byte where a colon (or the
    // line's end) must follow it, so nothing is searched and no string is made for a name.
    const n = end - start;
    let nameEnd: number;
    let isData = false;
    if (n >= 4 && buf[start] === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61 && (n === 4 || buf[start + 4] === COLON)) {
      isData = true;
      nameEnd = start + 4;
    } else if (n >= 5 && buf[start] === 0x65 && buf[start + 1] === 0x76 && buf[start + 2] === 0x65 && buf[start + 3] === 0x6e && buf[start + 4] === 0x74 && (n === 5 || buf[start + 5] === COLON)) {
      nameEnd = start + 5;
    } else return;
    let from = nameEnd === end ? end : nameEnd + 1;
    if (from < end && buf[from] === SPACE) from++;
    const value = buf.toString('utf8', from, end);
    if (!isData) this.event = value;
    else this.data = this.data === null ? value : `${this.data}\n${value}`;
  }

  /** End of stream: an unterminated trailing event is still delivered (no blank line after it). */
  flush(emit: (ev: SseEvent) => void): void {
    this.skipLf = false;
    if (this.carriedBytes === 0) return;
    const rest = Buffer.concat(this.carried);
    this.carried = [];
    this.carriedBytes = 0;
    this.line = [];
    this.data = null;
    this.event = undefined;
    // Terminated and parsed again; the raw bytes stay exactly what was received, in one event.
    let last: SseEvent | null = null;
    new SseSplitter(Infinity).push(Buffer.concat([rest, Buffer.from('\n\n')]), (ev) => {
      if (last === null || ev.data !== null) last = ev;
    });
    const ev = last as SseEvent | null;
    emit({ raw: rest, data: ev?.data ?? null, event: ev?.event });
  }

  get hasPending(): boolean {
    return this.carriedBytes > 0;
  }
}

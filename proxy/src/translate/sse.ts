// Incremental server-sent-events parser fed raw bytes, and an encoder.
// Follows https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation:
// CRLF, CR or LF line ends (a CR at a chunk's end may be the first half of CRLF), multi-line
// data joined by "\n", comment lines (":") ignored. UTF-8 sequences split across chunks are
// kept whole by TextDecoder's streaming mode. Linear however the bytes are cut (a line that
// spans pushes is joined once, when it ends) and bounded by MAX_SSE_EVENT_BYTES.
import { MAX_SSE_EVENT_BYTES, SseEventTooLargeError } from '../capture/sse.ts';

export interface SseEvent {
  event: string | undefined;
  data: string;
}

export class SseParser {
  #decoder = new TextDecoder('utf-8');
  #buf = '';
  /** Text of an unterminated line received after `#buf`, joined once a line end arrives. */
  #parts: string[] = [];
  #partsLength = 0;
  /** UTF-16 units of the current event's data lines. */
  #dataLength = 0;
  #event: string | undefined = undefined;
  #data: string[] = [];
  #hasData = false;

  /** Feeds bytes; returns the events completed by them. Throws SseEventTooLargeError past the bound. */
  push(chunk: Uint8Array): SseEvent[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    this.#partsLength += text.length;
    if (this.#dataLength + this.#buf.length + this.#partsLength > MAX_SSE_EVENT_BYTES) throw new SseEventTooLargeError(MAX_SSE_EVENT_BYTES);
    if (!text.includes('\n') && !text.includes('\r')) {
      this.#parts.push(text);
      return [];
    }
    this.#buf = this.#parts.length > 0 ? this.#buf + this.#parts.join('') + text : this.#buf + text;
    this.#parts = [];
    this.#partsLength = 0;
    return this.#drain(false);
  }

  /** End of input: flushes the decoder and dispatches a final event missing its blank line. */
  end(): SseEvent[] {
    this.#buf += this.#parts.join('') + this.#decoder.decode();
    this.#parts = [];
    this.#partsLength = 0;
    const out = this.#drain(true);
    if (this.#buf.length > 0) this.#line(this.#buf, out);
    this.#buf = '';
    this.#dispatch(out);
    return out;
  }

  #drain(final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    const buf = this.#buf;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 13 && i === buf.length - 1 && !final) break; // maybe CRLF split across chunks
      this.#line(buf.slice(start, i), out);
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.#buf = buf.slice(start);
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.#dispatch(out);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#data.push(value);
      this.#dataLength += value.length + 1;
      this.#hasData = true;
    }
  }

  #dispatch(out: SseEvent[]): void {
    if (this.#hasData) out.push({ event: this.#event, data: this.#data.join('\n') });
    this.#event = undefined;
    this.#data = [];
    this.#hasData = false;
    this.#dataLength = 0;
  }
}

/** One SSE frame. JSON never contains raw newlines, so data stays on one line. */
export function sseFrame(data: string, event?: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}

// Server-sent events for the translators: the proxy's one parser (capture/sse.ts SseSplitter,
// spec line ends, bounded by MAX_SSE_EVENT_BYTES, linear however the bytes are cut) seen as
// events with data, and an encoder.
import { SseSplitter } from '../capture/sse.ts';

export interface SseEvent {
  event: string | undefined;
  data: string;
}

export class SseParser {
  readonly #splitter = new SseSplitter();

  /** Feeds bytes; returns the events completed by them. Throws SseEventTooLargeError past the bound. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.#splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), (ev) => {
      if (ev.data !== null) out.push({ event: ev.event, data: ev.data });
    });
    return out;
  }

  /** End of input: dispatches a final event missing its blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.#splitter.flush((ev) => {
      if (ev.data !== null) out.push({ event: ev.event, data: ev.data });
    });
    return out;
  }
}

/** One SSE frame. JSON never contains raw newlines, so data stays on one line. */
export function sseFrame(data: string, event?: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}

// The records a log writer appended and its one consumer has not taken yet, kept in memory as
// the very bytes written: an in-process consumer (the embedded ingest, the proxy's Kafka relay)
// takes them from here instead of listing, opening, reading, checksumming and copying them back
// from the file. Bounded: past `maxBytes` it stops taking records, and the consumer reads the
// file (as after a restart) until it reaches what the tail holds again. Contiguous by offset.
import type { ReadResult } from './local-log-reader.ts';

/** What a writer's tail holds by default: tens of seconds of events at thousands of calls per second. */
export const LOG_TAIL_BYTES = 32 << 20;

interface TailRecord {
  start: number;
  end: number;
  bytes: Buffer;
}

export class LogTail {
  #records: TailRecord[] = [];
  #head = 0;
  #bytes = 0;
  /** End of the log: just past the last record appended, held here or not. */
  #end: number;
  readonly maxBytes: number;

  constructor(maxBytes: number, end: number) {
    this.maxBytes = maxBytes;
    this.#end = end;
  }

  /** Record [start, end) was appended (its payload `bytes`). */
  push(start: number, end: number, bytes: Buffer): void {
    this.#end = end;
    const last = this.#records.length > this.#head ? this.#records[this.#records.length - 1] : undefined;
    if (last !== undefined && last.end !== start) return; // a gap: the consumer reads the file past it
    if (this.#bytes + bytes.length > this.maxBytes) return;
    this.#records.push({ start, end, bytes });
    this.#bytes += bytes.length;
  }

  /**
   * Up to `max` records from `from` on, or null when the tail does not start there (read the
   * file). At the end of the log: no records, without touching the file.
   */
  read(from: number, max: number): ReadResult | null {
    this.release(from);
    if (from === this.#end) return { records: [], next: from, skippedBytes: 0, full: false };
    const first = this.#records[this.#head];
    if (first === undefined || first.start !== from || max <= 0) return null;
    const stop = Math.min(this.#records.length, this.#head + max);
    const records: Buffer[] = [];
    for (let i = this.#head; i < stop; i++) records.push(this.#records[i]!.bytes);
    return { records, next: this.#records[stop - 1]!.end, skippedBytes: 0, full: records.length >= max };
  }

  /** Records held from `from` on (0 when the tail does not start there). */
  count(from: number): number {
    const first = this.#records[this.#head];
    return first !== undefined && first.start === from ? this.#records.length - this.#head : 0;
  }

  /** Forget every record that ends at or before `upTo`. */
  release(upTo: number): void {
    while (this.#head < this.#records.length && this.#records[this.#head]!.end <= upTo) {
      this.#bytes -= this.#records[this.#head]!.bytes.length;
      this.#head++;
    }
    if (this.#head === this.#records.length) {
      this.#records = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }
}

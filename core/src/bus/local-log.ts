// Durable local event log: append-only segment files of checksummed records.
//
// Record = u32 payload length | u32 CRC-32 of payload | payload (one JSON event, no newline).
// Offsets are global byte positions; a segment is named by the offset of its first byte.
//
// Durability: `append` writes the record with one synchronous write before it returns, so a
// record is in the OS page cache (and survives the process being killed) before the caller
// finishes the HTTP response; `appendBatched` writes all records appended in one turn of the
// event loop with one write and tells each caller when its record is in. fsync is
// group-committed every `fsyncMs` for power loss.
// A torn last record (a crash mid-write) is cut off when the writer reopens the log, and a
// reader never delivers a record whose checksum fails.
import { closeSync, fdatasync, fsyncSync, ftruncateSync, mkdirSync, openSync, statSync, writevSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { LogTail } from './log-tail.ts';
import { MAX_RECORD, RECORD_HEADER_BYTES as HEADER, listSegments, logError, segmentName } from './log-format.ts';

export { RECORD_HEADER_BYTES, listSegments, segmentName } from './log-format.ts';
export { LocalLogReader, type ReadResult } from './local-log-reader.ts';

/** Records per writev (two buffers each: IOV_MAX is 1024 on Linux). */
const MAX_IOV_RECORDS = 512;

/** Scan a segment; returns the length of its valid prefix and how many records it holds. */
function scanValid(path: string): { valid: number; records: number } {
  const data = readFileSync(path);
  let pos = 0;
  let records = 0;
  while (pos + HEADER <= data.length) {
    const len = data.readUInt32LE(pos);
    const sum = data.readUInt32LE(pos + 4);
    if (len === 0 || len > MAX_RECORD || pos + HEADER + len > data.length) break;
    if (crc32(data.subarray(pos + HEADER, pos + HEADER + len)) !== sum) break;
    pos += HEADER + len;
    records++;
  }
  return { valid: pos, records };
}

export interface LocalLogWriterOptions {
  dir: string;
  segmentBytes?: number;
  /** 0 = fsync after every append (slow, strongest); otherwise the group-commit period. */
  fsyncMs?: number;
  onError?: (err: Error) => void;
  /** Keep appended records in memory for an in-process consumer, up to this many bytes (0: none). */
  tailBytes?: number;
}

export class LocalLogWriter {
  readonly dir: string;
  #fd: number;
  #base: number;
  #size: number;
  #segmentBytes: number;
  #dirty = false;
  #syncing = false;
  #timer: NodeJS.Timeout | undefined;
  #fsyncMs: number;
  #onError: (err: Error) => void;
  #listeners = new Set<() => void>();
  #closed = false;
  #batch: { payload: Buffer; done: (err: Error | null) => void }[] = [];
  /** Bytes cut off as a torn tail when the log was opened (0 after a clean shutdown). */
  readonly tornBytes: number;
  /** What was appended and not yet taken by the in-process consumer (null without `tailBytes`). */
  readonly tail: LogTail | null;

  constructor(opts: LocalLogWriterOptions) {
    this.dir = opts.dir;
    this.#segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.#fsyncMs = opts.fsyncMs ?? 20;
    this.#onError = opts.onError ?? (() => {});
    mkdirSync(this.dir, { recursive: true });
    const segs = listSegments(this.dir);
    this.#base = segs.at(-1) ?? 0;
    const path = join(this.dir, segmentName(this.#base));
    this.#fd = openSync(path, 'a+');
    const size = statSync(path).size;
    const { valid } = scanValid(path);
    this.tornBytes = size - valid;
    if (valid < size) ftruncateSync(this.#fd, valid);
    this.#size = valid;
    this.tail = opts.tailBytes ? new LogTail(opts.tailBytes, this.#base + valid) : null;
    if (this.#fsyncMs > 0) {
      this.#timer = setInterval(() => this.#groupCommit(), this.#fsyncMs);
      this.#timer.unref();
    }
  }

  /** Global offset just past the last appended record. */
  get endOffset(): number {
    return this.#base + this.#size;
  }

  /** Append one record; returns its end offset. Synchronous: on return it survives a process kill. */
  append(payload: Buffer): number {
    this.#check(payload);
    // Records queued by appendBatched go first: the log keeps the order of the calls.
    if (this.#batch.length > 0) this.#flushBatch();
    this.#write([payload]);
    return this.endOffset;
  }

  /**
   * Append one record together with the others appended in this turn of the event loop: one
   * write for all of them (a write is a system call, and under load many calls end per turn).
   * `done` runs once the record is written (in the page cache: it survives a process kill), or
   * with the error that kept it out of the log. Callers hold back what must follow the record
   * (the client's end of response) until then.
   */
  appendBatched(payload: Buffer, done: (err: Error | null) => void): void {
    this.#check(payload);
    if (this.#batch.length === 0) setImmediate(() => this.#flushBatch());
    this.#batch.push({ payload, done });
  }

  #check(payload: Buffer): void {
    if (this.#closed) throw logError('GATELOG_LOG_CLOSED', 'event log writer is closed');
    if (payload.length === 0 || payload.length > MAX_RECORD) throw new RangeError(`record of ${payload.length} bytes`);
  }

  #flushBatch(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    let i = 0;
    while (i < batch.length) {
      // One write per group: at most MAX_IOV buffers, and never across a segment roll.
      const group: Buffer[] = [];
      let bytes = this.#size;
      for (; i < batch.length && group.length < MAX_IOV_RECORDS; i++) {
        if (group.length > 0 && bytes >= this.#segmentBytes) break;
        group.push(batch[i]!.payload);
        bytes += HEADER + batch[i]!.payload.length;
      }
      const first = i - group.length;
      let err: Error | null = null;
      try {
        this.#write(group);
      } catch (e) {
        err = e as Error;
      }
      for (let j = first; j < i; j++) {
        try {
          batch[j]!.done(err);
        } catch (e) {
          this.#onError(e as Error);
        }
      }
    }
  }

  /** Write whole records in one system call; throws (and leaves no part of them) on a short write. */
  #write(payloads: Buffer[]): void {
    if (this.#size >= this.#segmentBytes) this.#roll();
    const iov: Buffer[] = [];
    let n = 0;
    for (const payload of payloads) {
      const header = Buffer.allocUnsafe(HEADER);
      header.writeUInt32LE(payload.length, 0);
      header.writeUInt32LE(crc32(payload), 4);
      iov.push(header, payload);
      n += HEADER + payload.length;
    }
    const written = writevSync(this.#fd, iov);
    // A short write (disk full) must not leave a half record followed by a new one.
    if (written !== n) {
      ftruncateSync(this.#fd, this.#size);
      throw logError('GATELOG_LOG_SHORT_WRITE', `short write to event log (${written}/${n} bytes)`);
    }
    for (const payload of payloads) {
      const start = this.#base + this.#size;
      this.#size += HEADER + payload.length;
      this.tail?.push(start, this.#base + this.#size, payload);
    }
    if (this.#fsyncMs === 0) fsyncSync(this.#fd);
    else this.#dirty = true;
    // The records are durable at this point: a failing listener must not look like a failed append.
    for (let k = 0; k < payloads.length; k++) {
      for (const l of this.#listeners) {
        try {
          l();
        } catch (err) {
          this.#onError(err as Error);
        }
      }
    }
  }

  /** Called after every append (in-process tailers use it instead of polling). */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #groupCommit(): void {
    if (!this.#dirty || this.#syncing) return;
    this.#dirty = false;
    this.#syncing = true;
    const fd = this.#fd;
    fdatasync(fd, (err) => {
      this.#syncing = false;
      // A roll or close in the meantime fsynced and closed this fd itself: EBADF is not a loss.
      if (err && fd === this.#fd && !this.#closed) this.#onError(err);
    });
  }

  #roll(): void {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#base += this.#size;
    this.#size = 0;
    this.#fd = openSync(join(this.dir, segmentName(this.#base)), 'a+');
  }

  close(): void {
    if (this.#closed) return;
    this.#flushBatch();
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#listeners.clear();
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }
}

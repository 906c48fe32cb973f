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
import { closeSync, fdatasync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writevSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { LogTail } from './log-tail.ts';

/** Framing of one record on disk (u32 length + u32 CRC) before its payload. */
export const RECORD_HEADER_BYTES = 8;
const HEADER = RECORD_HEADER_BYTES;
const MAX_RECORD = 64 * 1024 * 1024;
const SEGMENT_RE = /^(\d{20})\.log$/;
/** Bytes a reader asks the file for at a time (a record larger than this is read whole). */
const READ_BYTES = 256 * 1024;
/** Records per writev (two buffers each: IOV_MAX is 1024 on Linux). */
const MAX_IOV_RECORDS = 512;

function logError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.log`;
}

export function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => SEGMENT_RE.exec(n)?.[1])
    .filter((b): b is string => b !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

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

export interface ReadResult {
  records: Buffer[];
  /** Offset to resume from (just past the last record returned or skipped). */
  next: number;
  /** Bytes skipped because a record failed its checksum in a sealed segment. */
  skippedBytes: number;
  /** The read stopped at maxRecords or maxBytes: the batch is full. */
  full: boolean;
}

/** The records one read collects, and its limits. */
interface Batch {
  records: Buffer[];
  bytes: number;
  maxRecords: number;
  maxBytes: number;
  full: boolean;
}

/** Reads records from a log directory, from any offset. Safe alongside a live writer. */
export class LocalLogReader {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Up to `maxRecords` records from `from` on, and no more than `maxBytes` of payload unless the
   * first record alone is larger (it is returned by itself).
   */
  read(from: number, maxRecords: number, maxBytes = Number.POSITIVE_INFINITY): ReadResult {
    const segs = listSegments(this.dir);
    const b: Batch = { records: [], bytes: 0, maxRecords, maxBytes, full: maxRecords <= 0 };
    let skippedBytes = 0;
    let pos = from;
    for (let i = 0; i < segs.length && !b.full; i++) {
      const base = segs[i] ?? 0;
      const nextBase = segs[i + 1];
      const sealed = nextBase !== undefined;
      if (sealed && nextBase <= pos) continue;
      if (pos < base) pos = base; // segments below were deleted by retention
      const path = join(this.dir, segmentName(base));
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch {
        if (sealed) continue; // pruned between listing and opening
        break;
      }
      try {
        const { size } = statSync(path);
        let local = pos - base;
        for (;;) {
          local = this.#readRecords(fd, size, local, b);
          if (!sealed || b.full || local >= size) break;
          // A sealed segment never grows, so an unreadable record there is corruption, not a
          // record still being written: skip to the next record that checks out, and count it.
          const resume = findNextRecord(fd, size, local);
          skippedBytes += resume - local;
          local = resume;
        }
        pos = sealed && local >= size ? nextBase : base + local;
      } finally {
        closeSync(fd);
      }
      if (!sealed) break;
    }
    return { records: b.records, next: pos, skippedBytes, full: b.full };
  }

  /**
   * Parse valid records from `local` on; returns where parsing stopped. Reads in chunks of
   * READ_BYTES (more only for a record larger than that) into a fresh buffer each time, and
   * returns records as views of it: nothing is read beyond what the caller asked for, nothing
   * is copied twice.
   */
  #readRecords(fd: number, size: number, local: number, b: Batch): number {
    let want = READ_BYTES;
    while (!b.full && local + HEADER <= size) {
      const chunk = Buffer.allocUnsafe(Math.min(want, size - local));
      const got = readSync(fd, chunk, 0, chunk.length, local);
      let off = 0;
      let grow = 0;
      while (!b.full && off + HEADER <= got) {
        const len = chunk.readUInt32LE(off);
        const sum = chunk.readUInt32LE(off + 4);
        if (len === 0 || len > MAX_RECORD) break;
        if (b.records.length > 0 && b.bytes + len > b.maxBytes) {
          b.full = true;
          break;
        }
        if (off + HEADER + len > got) {
          if (off === 0 && local + HEADER + len <= size) grow = HEADER + len;
          break;
        }
        const payload = chunk.subarray(off + HEADER, off + HEADER + len);
        if (crc32(payload) !== sum) break;
        b.records.push(payload);
        b.bytes += len;
        if (b.records.length >= b.maxRecords) b.full = true;
        off += HEADER + len;
      }
      local += off;
      if (off === 0 && grow === 0) break;
      want = Math.max(READ_BYTES, grow);
    }
    return local;
  }

  /**
   * Remove whole segments that end at or before `offset` (never the newest one). The unlinks run
   * on libuv's pool: removing a 64 MiB segment that was written back frees its pages in the
   * kernel, ~30 ms here, which every call in flight on the event loop would otherwise wait out.
   */
  async prune(offset: number): Promise<number> {
    const done = this.#consumedSegments(offset);
    for (const path of done) await rm(path, { force: true });
    return done.length;
  }

  /**
   * `prune` as blocking calls, for a thread of its own (the Kafka spool relay, as with
   * OffsetFile.storeSync): that thread waits out the kernel freeing a removed segment's pages,
   * which is why an event loop must use `prune`.
   */
  pruneSync(offset: number): number {
    const done = this.#consumedSegments(offset);
    for (const path of done) rmSync(path, { force: true });
    return done.length;
  }

  /** Paths of the whole segments that end at or before `offset`, never the newest one. */
  #consumedSegments(offset: number): string[] {
    const segs = listSegments(this.dir);
    const out: string[] = [];
    for (let i = 0; i + 1 < segs.length; i++) {
      if ((segs[i + 1] ?? 0) <= offset) out.push(join(this.dir, segmentName(segs[i] ?? 0)));
    }
    return out;
  }

  /** Global offset just past the last byte on disk (torn bytes included): the lag reference. */
  endOffset(): number {
    const last = listSegments(this.dir).at(-1);
    if (last === undefined) return 0;
    try {
      return last + statSync(join(this.dir, segmentName(last))).size;
    } catch {
      return last;
    }
  }
}

/**
 * First position after `local` where a whole record with a valid checksum starts, or `size`.
 * Rare path (corruption only), so it reads the rest of the sealed segment at once. JSON text
 * never looks like a plausible length (its high byte is ASCII), so the scan is cheap.
 */
function findNextRecord(fd: number, size: number, local: number): number {
  const rest = Buffer.allocUnsafe(size - local);
  const got = readSync(fd, rest, 0, rest.length, local);
  for (let p = 1; p + HEADER <= got; p++) {
    const len = rest.readUInt32LE(p);
    if (len === 0 || len > MAX_RECORD || p + HEADER + len > got) continue;
    if (crc32(rest.subarray(p + HEADER, p + HEADER + len)) === rest.readUInt32LE(p + 4)) return local + p;
  }
  return size;
}

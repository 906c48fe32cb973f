// Reads the local event log (log-format.ts) from any offset, safe alongside a live writer: a
// record is delivered only whole and with its checksum; in a sealed segment an unreadable record
// is corruption and is skipped (and counted), in the newest one it is a record still being written.
import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MAX_RECORD, RECORD_HEADER_BYTES as HEADER, listSegments, segmentName } from './log-format.ts';

/** Bytes a reader asks the file for at a time (a record larger than this is read whole). */
const READ_BYTES = 256 * 1024;

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

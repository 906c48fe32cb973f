// The copies of call events outside ClickHouse — the event log (data dir `events/`), the
// proxy's spool (`spool/log/`) and the dead-letter file (dead-letter-scrub.ts) — scrubbed for
// retention and erasure.
//
// Log records are rewritten in place at the same length: the event with its bodies (and the
// fields the caller names) emptied, padded with spaces (JSON allows them; ingest reads the row
// as is), and a new CRC. Offsets, segment sizes and the writer appending at the end are
// untouched. A reader racing the rewrite of a record (the spool's relay thread reads the same
// segments) may see a checksum mismatch and skip it as corrupt, which loses that call's
// metadata, never leaks its bodies.
//
// A scrub never holds the event loop for long: a spool can reach `bus.spool_max_bytes` (1 GiB)
// while Kafka is away, and every tenant's calls wait on the same loop. Segments are read and
// written through libuv's pool a chunk at a time, the parsing gives the loop back every few ms,
// and scrubs of one directory run one at a time (scrub-pacing.ts).
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { listSegments, RECORD_HEADER_BYTES, segmentName } from '../bus/local-log.ts';
import { spoolDirOf, spoolLogDir } from '../bus/spool-layout.ts';
import { scrubDeadLetters } from './dead-letter-scrub.ts';
import { scrubbedInPlace, type ScrubResult, type ScrubRule } from './scrub-event.ts';
import { oneAtATime, scrubError, Slice } from './scrub-pacing.ts';

export { ERASED_MARK, jsonText, scrubbedEvent, type ScrubResult, type ScrubRule } from './scrub-event.ts';
export { scrubDeadLetters } from './dead-letter-scrub.ts';

/** Bytes read from a segment at a time (a record larger than this is read whole). */
const CHUNK_BYTES = 1 << 20;
/** Rewritten records closer than this are written back with one write (the page is dirtied either way). */
const JOIN_GAP_BYTES = 4096;

/**
 * Scrub every record of one local-log directory that any of `rules` selects, rewritten in
 * place. Segments are read a chunk at a time; the records a chunk holds whole are parsed, and
 * the rewritten ones written back (their CRC and payload, contiguous on disk) before the next
 * chunk is read. With `below` (a log offset), only the records that end at or before it.
 */
export function scrubLogDir(dir: string, rules: readonly ScrubRule[], opts: { below?: number } = {}): Promise<ScrubResult> {
  return oneAtATime(dir, async () => {
    const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
    const below = opts.below ?? Number.POSITIVE_INFINITY;
    const slice = new Slice();
    for (const base of listSegments(dir)) {
      if (base >= below) break;
      const r = await scrubSegment(join(dir, segmentName(base)), rules, below - base, slice);
      res.records += r.records;
      res.bytes += r.bytes;
      if (r.records > 0) res.files++;
    }
    return res;
  });
}

interface Scrubbed {
  records: number;
  bytes: number;
}

/** One segment's records that end at or before `limit` (a position in the segment). */
async function scrubSegment(path: string, rules: readonly ScrubRule[], limit: number, slice: Slice): Promise<Scrubbed> {
  const res: Scrubbed = { records: 0, bytes: 0 };
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch {
    return res; // pruned meanwhile
  }
  try {
    // Records appended after this are past the part scrubbed, as when the scrub was one step.
    const { size } = await fh.stat();
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size));
    let at = 0;
    let whole = 0;
    while (at + RECORD_HEADER_BYTES <= size) {
      // A record larger than a chunk is read whole, in a buffer of its own.
      const buf = whole > chunk.length ? Buffer.allocUnsafe(whole) : chunk;
      const want = Math.min(buf.length, size - at);
      const { bytesRead } = await fh.read(buf, 0, want, at);
      slice.restart();
      const step = await scrubChunk(buf.subarray(0, bytesRead), at, Math.min(size, limit), rules, slice, res);
      for (const [start, end] of step.runs) await writeAt(fh, buf, start, end - start, at + start);
      // A short read: the file is shorter than it was (cut by hand); the rest was read.
      if (step.end || bytesRead < want || (step.parsed === 0 && step.whole === 0)) break;
      at += step.parsed;
      whole = step.whole;
    }
    if (res.records > 0) await fh.sync();
  } finally {
    await fh.close();
  }
  return res;
}

interface ChunkStep {
  /** Bytes of whole records parsed from the start of the chunk. */
  parsed: number;
  /** The segment's records end here: a zero length, a record past `limit` or cut short. */
  end: boolean;
  /** Bytes of the next record when the chunk cannot hold it (else 0). */
  whole: number;
  /**
   * [start, end) of the chunk's rewritten bytes, to write back. Bytes between two rewritten
   * records of a run are written as they were read: no writer changes a record once appended,
   * and scrubs of the directory run one at a time.
   */
  runs: [number, number][];
}

/**
 * Scrub the records `buf` holds whole (read from segment position `at`; records wanted up to
 * segment position `limit`), rewriting them in `buf`.
 */
async function scrubChunk(buf: Buffer, at: number, limit: number, rules: readonly ScrubRule[], slice: Slice, res: Scrubbed): Promise<ChunkStep> {
  const step: ChunkStep = { parsed: 0, end: false, whole: 0, runs: [] };
  let off = 0;
  while (off + RECORD_HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32LE(off);
    const end = off + RECORD_HEADER_BYTES + len;
    if (len === 0 || at + end > limit) {
      step.end = true;
      break;
    }
    if (end > buf.length) {
      if (off === 0) step.whole = end;
      break;
    }
    const payload = buf.subarray(off + RECORD_HEADER_BYTES, end);
    // The checksum is verified only for a record about to be rewritten (most are skipped by the needle).
    const next = scrubbedInPlace(payload, rules);
    if (next && crc32(payload) === buf.readUInt32LE(off + 4)) {
      buf.writeUInt32LE(crc32(next), off + 4);
      next.copy(buf, off + RECORD_HEADER_BYTES);
      const last = step.runs.at(-1);
      if (last && off + 4 - last[1] <= JOIN_GAP_BYTES) last[1] = end;
      else step.runs.push([off + 4, end]);
      res.records++;
      res.bytes += len;
    }
    off = end;
    if (slice.due()) await slice.pause();
  }
  step.parsed = off;
  return step;
}

async function writeAt(fh: FileHandle, buf: Buffer, offset: number, length: number, position: number): Promise<void> {
  const { bytesWritten } = await fh.write(buf, offset, length, position);
  if (bytesWritten !== length) throw scrubError('GATELOG_SCRUB_SHORT_WRITE', `short write while scrubbing a log segment (${String(bytesWritten)}/${String(length)} bytes)`);
}

/** Every copy under a data dir: events/, spool/log/ and dead-letter.jsonl. An event any of `rules` selects is scrubbed. */
export async function scrubDataDir(dataDir: string, rules: readonly ScrubRule[]): Promise<ScrubResult> {
  const parts = [
    await scrubLogDir(join(dataDir, 'events'), rules),
    await scrubLogDir(spoolLogDir(spoolDirOf(dataDir)), rules),
    await scrubDeadLetters(join(dataDir, 'dead-letter.jsonl'), rules),
  ];
  return parts.reduce((a, b) => ({ records: a.records + b.records, bytes: a.bytes + b.bytes, files: a.files + b.files }));
}

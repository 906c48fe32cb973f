// The copies of call events outside ClickHouse — the event log (data dir `events/`), the
// proxy's spool (`spool/log/`) and the dead-letter file — scrubbed for retention and erasure.
//
// Log records are rewritten in place at the same length: the event with its bodies (and the
// fields the caller names) emptied, padded with spaces (JSON allows them; ingest reads the row
// as is), and a new CRC. Offsets, segment sizes and the writer appending at the end are
// untouched. A reader racing the rewrite of a record may see a checksum mismatch and skip it as
// corrupt, which loses that call's metadata, never leaks its bodies.
// The dead-letter file (JSON lines) is rewritten to a temporary file and renamed over it.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { listSegments, RECORD_HEADER_BYTES, segmentName } from '../bus/local-log.ts';
import { spoolDirOf, spoolLogDir } from '../bus/spool-layout.ts';

export interface ScrubRule {
  /** Whether this event (parsed) must be scrubbed. */
  match(e: Record<string, unknown>): boolean;
  /** Fields set to '' besides the bodies (e.g. `user` on erasure). */
  alsoClear?: readonly string[];
  /** Cheap pre-check on the raw record (a substring it must contain), to skip parsing most records. */
  needle?: string;
}

/** A string as it stands inside a JSON string literal (a needle for a raw record). */
export function jsonText(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

export interface ScrubResult {
  records: number;
  bytes: number;
  files: number;
}

const BODY_FIELDS = ['request_body', 'response_body', 'error_message'] as const;
const ATTEMPT_IO_BODY_FIELDS = ['request_body', 'response_body', 'request_sha256', 'response_sha256'] as const;

/**
 * The event with its bodies (and the rule's other fields) emptied, or null when the rule does
 * not match it or it has nothing left to empty. `e` is the event parsed, when the caller has it.
 */
export function scrubbedEvent(raw: Buffer, rule: ScrubRule, e?: Record<string, unknown>): Buffer | null {
  if (e === undefined) {
    if (rule.needle !== undefined && !raw.includes(rule.needle)) return null;
    try {
      e = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  if (!rule.match(e)) return null;
  const fields = [...BODY_FIELDS, ...(rule.alsoClear ?? [])];
  const io = Array.isArray(e['attempt_io']) ? (e['attempt_io'] as Record<string, unknown>[]) : [];
  const ioBodies = io.some((a) => ATTEMPT_IO_BODY_FIELDS.some((f) => typeof a[f] === 'string' && a[f] !== ''));
  if (!ioBodies && fields.every((f) => e[f] === '' || e[f] === undefined)) return null;
  for (const f of fields) if (f in e) e[f] = '';
  // Per-attempt bodies (migration 0013) and their hashes; ids, sizes and flags stay.
  for (const a of io) for (const f of ATTEMPT_IO_BODY_FIELDS) if (typeof a[f] === 'string') a[f] = '';
  return Buffer.from(JSON.stringify(e));
}

/** The scrubbed event at exactly `raw.length` bytes, or null if it needs no change. */
function scrubbed(raw: Buffer, rule: ScrubRule): Buffer | null {
  const out = scrubbedEvent(raw, rule);
  if (out === null) return null;
  // Only strings were emptied, so it is never longer.
  if (out.length > raw.length) return null;
  return Buffer.concat([out, Buffer.alloc(raw.length - out.length, 0x20)]);
}

/**
 * Scrub every record of one local-log directory, rewritten in place. A segment is read whole
 * (segment_bytes, 64 MiB by default) and each changed record written back with one write of
 * its CRC and payload (contiguous on disk). With `below` (a log offset), only the records that
 * end at or before it.
 */
export function scrubLogDir(dir: string, rule: ScrubRule, opts: { below?: number } = {}): ScrubResult {
  const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
  const below = opts.below ?? Number.POSITIVE_INFINITY;
  for (const base of listSegments(dir)) {
    if (base >= below) break;
    const path = join(dir, segmentName(base));
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch {
      continue; // pruned meanwhile
    }
    let touched = false;
    try {
      const data = Buffer.allocUnsafe(statSync(path).size);
      const size = readSync(fd, data, 0, data.length, 0);
      let pos = 0;
      while (pos + RECORD_HEADER_BYTES <= size) {
        const len = data.readUInt32LE(pos);
        const end = pos + RECORD_HEADER_BYTES + len;
        if (len === 0 || end > size || base + end > below) break;
        const payload = data.subarray(pos + RECORD_HEADER_BYTES, end);
        // The checksum is verified only for a record about to be rewritten (most are skipped by the needle).
        const next = scrubbed(payload, rule);
        if (next && crc32(payload) === data.readUInt32LE(pos + 4)) {
          const out = Buffer.allocUnsafe(4 + len);
          out.writeUInt32LE(crc32(next), 0);
          next.copy(out, 4);
          writeSync(fd, out, 0, out.length, pos + 4);
          res.records++;
          res.bytes += len;
          touched = true;
        }
        pos = end;
      }
      if (touched) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (touched) res.files++;
  }
  return res;
}

/** Scrub the dead-letter file's records (each line keeps its reason; the record loses its bodies). */
export function scrubDeadLetters(path: string, rule: ScrubRule): ScrubResult {
  const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
  if (!existsSync(path)) return res;
  const lines = readFileSync(path, 'utf8').split('\n');
  let changed = false;
  const out = lines.map((line) => {
    if (line === '' || (rule.needle !== undefined && !line.includes(rule.needle))) return line;
    try {
      const dl = JSON.parse(line) as { record?: string };
      if (typeof dl.record !== 'string') return line;
      const next = scrubbed(Buffer.from(dl.record), rule);
      if (!next) return line;
      res.records++;
      res.bytes += Buffer.byteLength(dl.record);
      changed = true;
      return JSON.stringify({ ...dl, record: next.toString('utf8').trimEnd() });
    } catch {
      return line;
    }
  });
  if (changed) {
    const tmp = `${path}.scrub-${process.pid}`;
    writeFileSync(tmp, out.join('\n'));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    res.files = 1;
  }
  return res;
}

/** Every copy under a data dir: events/, spool/log/ and dead-letter.jsonl. */
export function scrubDataDir(dataDir: string, rule: ScrubRule): ScrubResult {
  const parts = [scrubLogDir(join(dataDir, 'events'), rule), scrubLogDir(spoolLogDir(spoolDirOf(dataDir)), rule), scrubDeadLetters(join(dataDir, 'dead-letter.jsonl'), rule)];
  return parts.reduce((a, b) => ({ records: a.records + b.records, bytes: a.bytes + b.bytes, files: a.files + b.files }));
}

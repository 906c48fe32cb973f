// Erasure reaches the scheduled export files. A file written before an erasure holds the
// erased calls' bodies as they were; the erasure rewrites it: every row the erasure selects
// (as it selects calls in ClickHouse: user, key, trace, before, teams, started before it was
// asked, held calls spared) loses its bodies, error message and user (attempt_io keeps its ids
// and sizes), or, for an erasure of rows, is left out. The file is written anew beside the old
// one and renamed over it; its manifest then carries the new rows, bytes and SHA-256, the
// erasure that changed it (`erasures`) and the `export.erase` audit row that records the new
// digest next to the previous one, so `gatelog export verify --url` checks the file against the
// newest record of it. Rows nothing selects are copied byte for byte.
//
// Run by the proxy that serves an erasure (eraseCalls) and, for erasures asked elsewhere, by
// every other proxy's erasure watch over its own schedules' files; rewriting a file a second
// time changes nothing and records nothing.
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ScheduledExportConfig } from '../config.ts';
import type { Store } from './client.ts';
import { appendAudit } from './audit.ts';
import { scheduleFiles } from './export-expiry.ts';
import { inTurn, TURN_WAIT_MS } from './job-lease.ts';
import { ExportDigester, ExportManifest } from './export-manifest.ts';
import { exportRowEnds } from './export-queries.ts';
import { ATTEMPT_IO_BODY_FIELDS, scrubbedByAny, type ScrubRule } from './scrub-event.ts';

export const EXPORT_ERASE_ACTION = 'export.erase';

/** One erasure as the files see it: its rule (holds applied, no erased mark), whether it removes rows, and when it was asked. */
export interface ExportErasure {
  id: string;
  at: number;
  rows: boolean;
  rule: ScrubRule;
}

export interface ExportScrubResult {
  /** Files rewritten. */
  files: number;
  /** Rows whose bodies were emptied. */
  rows: number;
  /** Rows left out (an erasure of rows). */
  removed: number;
}

const BODY_CELLS = ['request_body', 'response_body', 'error_message'] as const;

/** Rewrites the files of `schedules` (each dir once) that can hold calls `erasures` select. */
export async function scrubExports(store: Store, schedules: readonly ScheduledExportConfig[], erasures: readonly ExportErasure[]): Promise<ExportScrubResult> {
  const out: ExportScrubResult = { files: 0, rows: 0, removed: 0 };
  if (erasures.length === 0) return out;
  const done = new Set<string>();
  for (const s of schedules) {
    for (const { name, start } of scheduleFiles(s)) {
      const file = join(s.dir, name);
      if (done.has(file)) continue;
      done.add(file);
      // A file whose period starts after an erasure was asked holds only calls that started after it.
      const apply = erasures.filter((e) => start < e.at);
      if (apply.length === 0) continue;
      const r = await scrubExportFile(store, file, s.format, apply);
      if (r.rows + r.removed > 0) out.files++;
      out.rows += r.rows;
      out.removed += r.removed;
    }
  }
  return out;
}

/** Records of an export file, each with its line end (exportRowEnds: the rows its digest counts). */
async function* records(file: string, format: 'csv' | 'jsonl'): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let odd = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const r = exportRowEnds(chunk, format === 'csv', odd);
    odd = r.odd;
    let start = 0;
    for (const end of r.ends) {
      const piece = chunk.subarray(start, end + 1);
      yield pending.length > 0 ? Buffer.concat([pending, piece]) : piece;
      pending = Buffer.alloc(0);
      start = end + 1;
    }
    if (start < chunk.length) pending = Buffer.concat([pending, chunk.subarray(start)]);
  }
  if (pending.length > 0) yield pending;
}

/** The raw cells of a CSV record (terminator excluded): byte ranges, quotes included. */
function csvCells(rec: Buffer): Buffer[] {
  const cells: Buffer[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < rec.length; i++) {
    const c = rec[i];
    if (c === 0x22) inQuotes = !inQuotes;
    else if (c === 0x2c && !inQuotes) {
      cells.push(rec.subarray(start, i));
      start = i + 1;
    }
  }
  cells.push(rec.subarray(start));
  return cells;
}

const unquote = (cell: Buffer): string => {
  const s = cell.toString('utf8');
  return s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replaceAll('""', '"') : s;
};
const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;
/** A string cell as stored, without the quote that keeps a spreadsheet from reading it as a formula. */
const unneutralized = (s: string): string => (/^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s);

type Verdict = { kind: 'keep' } | { kind: 'remove' } | { kind: 'scrub'; bytes: Buffer };

function jsonlVerdict(line: Buffer, erasures: readonly ExportErasure[]): Verdict {
  const candidates = erasures.filter((e) => e.rule.needle === undefined || line.includes(e.rule.needle));
  if (candidates.length === 0) return { kind: 'keep' };
  const end = line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(line.subarray(0, end).toString('utf8')) as Record<string, unknown>;
  } catch {
    return { kind: 'keep' };
  }
  const selecting = candidates.filter((e) => e.rule.match(row));
  if (selecting.length === 0) return { kind: 'keep' };
  if (selecting.some((e) => e.rows)) return { kind: 'remove' };
  const scrubbed = scrubbedByAny(line.subarray(0, end), selecting.map((e) => e.rule), row);
  return scrubbed ? { kind: 'scrub', bytes: Buffer.concat([scrubbed, line.subarray(end)]) } : { kind: 'keep' };
}

function csvVerdict(rec: Buffer, header: readonly string[], erasures: readonly ExportErasure[]): Verdict {
  const end = rec.length >= 2 && rec[rec.length - 2] === 0x0d ? rec.length - 2 : rec[rec.length - 1] === 0x0a ? rec.length - 1 : rec.length;
  const cells = csvCells(rec.subarray(0, end));
  const col = (name: string): number => header.indexOf(name);
  const text = (name: string): string => (col(name) >= 0 && cells[col(name)] ? unneutralized(unquote(cells[col(name)]!)) : '');
  const row = { user: text('user'), key_id: text('key_id'), trace_id: text('trace_id'), team: text('team'), started_at: text('started_at') };
  const selecting = erasures.filter((e) => e.rule.match(row));
  if (selecting.length === 0) return { kind: 'keep' };
  if (selecting.some((e) => e.rows)) return { kind: 'remove' };
  const clear = new Set<string>([...BODY_CELLS, ...selecting.flatMap((e) => e.rule.alsoClear ?? [])]);
  let changed = false;
  const next = cells.map((cell, i) => {
    const name = header[i] ?? '';
    if (clear.has(name)) {
      if (unquote(cell) === '') return cell;
      changed = true;
      return Buffer.from('""');
    }
    if (name !== 'attempt_io') return cell;
    let io: unknown;
    try {
      io = JSON.parse(unquote(cell));
    } catch {
      return cell;
    }
    if (!Array.isArray(io)) return cell;
    let cleared = false;
    for (const a of io as Record<string, unknown>[]) {
      for (const f of ATTEMPT_IO_BODY_FIELDS) {
        if (typeof a[f] === 'string' && a[f] !== '') {
          a[f] = '';
          cleared = true;
        }
      }
    }
    if (!cleared) return cell;
    changed = true;
    return Buffer.from(quote(JSON.stringify(io)));
  });
  if (!changed) return { kind: 'keep' };
  const parts: Buffer[] = [];
  next.forEach((c, i) => parts.push(...(i === 0 ? [c] : [Buffer.from(','), c])));
  parts.push(rec.subarray(end));
  return { kind: 'scrub', bytes: Buffer.concat(parts) };
}

/**
 * Rewrites one file as `erasures` leave it (see the top of this file); nothing is written when no
 * row changes. One rewrite of a file at a time — in this process, and across proxies sharing the
 * dir through a ClickHouse server (job-lease.ts `inTurn`) — so one erasure's rewrite never
 * replaces another's.
 */
export async function scrubExportFile(store: Store, file: string, format: 'csv' | 'jsonl', erasures: readonly ExportErasure[]): Promise<{ rows: number; removed: number }> {
  if (!(await mayHold(file, format, erasures))) return { rows: 0, removed: 0 };
  const job = `export-file:${createHash('sha256').update(file).digest('hex')}`;
  const busy = (): Error => new Error(`${file}: another process has been rewriting it for over ${TURN_WAIT_MS} ms`);
  return inTurn(store, job, busy, () => rewrite(store, file, format, erasures));
}

/**
 * Whether the file may hold a row the erasures select: false only when every erasure names a
 * value (its needle: a user, key, trace or single team) found nowhere in the file's bytes. Read
 * at native search speed, before a turn is taken or a copy written: most files of most
 * schedules hold no call of the erased user, and a year of daily files is read once per
 * erasure, not copied. A CSV cell holds the value as is (quotes doubled), so a needle with a
 * JSON escape in it (a quote, a backslash, a control character) cannot rule a CSV file out.
 */
export async function mayHold(file: string, format: 'csv' | 'jsonl', erasures: readonly ExportErasure[]): Promise<boolean> {
  const needles: Buffer[] = [];
  for (const e of erasures) {
    const n = e.rule.needle;
    if (n === undefined || n === '' || (format === 'csv' && n.includes('\\'))) return true;
    needles.push(Buffer.from(n));
  }
  if (!existsSync(file)) return false;
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  let tail: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (needles.some((n) => chunk.includes(n))) return true;
    // A value split between two reads: only the seam is copied (the last read's end, this one's start).
    const seam = Buffer.concat([tail, chunk.subarray(0, overlap)]);
    if (tail.length > 0 && needles.some((n) => seam.includes(n))) return true;
    tail = chunk.length >= overlap ? chunk.subarray(chunk.length - overlap) : seam.subarray(Math.max(0, seam.length - overlap));
  }
  return false;
}

async function rewrite(store: Store, file: string, format: 'csv' | 'jsonl', erasures: readonly ExportErasure[]): Promise<{ rows: number; removed: number }> {
  if (!existsSync(file)) return { rows: 0, removed: 0 }; // expired (or moved) meanwhile
  const next = `${file}.erasing-${process.pid}-${randomUUID().slice(0, 8)}`;
  const out = createWriteStream(next);
  const digest = new ExportDigester(format);
  const before = new ExportDigester(format);
  let header: string[] | null = format === 'csv' ? null : [];
  let rows = 0;
  let removed = 0;
  const write = async (b: Buffer): Promise<void> => {
    digest.feed(b);
    if (!out.write(b)) await once(out, 'drain');
  };
  try {
    for await (const rec of records(file, format)) {
      before.feed(rec);
      if (header === null) {
        header = csvCells(rec.subarray(0, rec.indexOf(0x0d) >= 0 ? rec.indexOf(0x0d) : rec.length - 1)).map(unquote);
        await write(rec);
        continue;
      }
      const v = format === 'csv' ? csvVerdict(rec, header, erasures) : jsonlVerdict(rec, erasures);
      if (v.kind === 'remove') removed++;
      else if (v.kind === 'scrub') {
        rows++;
        await write(v.bytes);
      } else await write(rec);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    rmSync(next, { force: true });
    throw err;
  }
  if (rows + removed === 0) {
    rmSync(next, { force: true });
    return { rows, removed };
  }
  renameSync(next, file);
  const previous = before.digest();
  const now = digest.digest();
  const manifestPath = `${file}.manifest.json`;
  let manifest: ExportManifest | null = null;
  if (existsSync(manifestPath)) {
    try {
      manifest = ExportManifest.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
    } catch {
      manifest = null; // not one gatelog wrote: left as it is
    }
  }
  const ids = erasures.map((e) => e.id);
  const row = await appendAudit(store, {
    action: EXPORT_ERASE_ACTION, actor: 'erasure', role: 'system', targetType: 'export', target: basename(file),
    details: { ...(manifest ? { export_id: manifest.export_id } : {}), file, erasures: ids, rows_erased: rows, rows_removed: removed, ...now, previous_sha256: previous.sha256, previous_rows: previous.rows, previous_bytes: previous.bytes },
  });
  if (manifest) {
    const updated: ExportManifest = {
      ...manifest, ...now, audit_id: row.id,
      erasures: [...(manifest.erasures ?? []), { erasure_ids: ids, at: new Date().toISOString(), rows_erased: rows, rows_removed: removed, previous_sha256: previous.sha256 }],
    };
    writeFileSync(manifestPath, `${JSON.stringify(updated, null, 2)}\n`);
  }
  return { rows, removed };
}

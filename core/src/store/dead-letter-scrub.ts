// The dead-letter file (JSON lines: a reason and the raw record ClickHouse refused) scrubbed
// for retention and erasure: each line keeps its reason, its record loses its bodies. The file
// is rewritten to a temporary file and renamed over it.
//
// Ingest appends to it synchronously, on this event loop (ingest/src/dead-letter.ts). The file
// is read, and its lines scrubbed and written to the temporary file, between turns of the loop
// (scrub-pacing.ts); then one synchronous step, with no await until the rename, scrubs and adds
// the last lines appended meanwhile, so none is lost.
import { closeSync, fsyncSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { scrubbedInPlace, type ScrubResult, type ScrubRule } from './scrub-event.ts';
import { oneAtATime, scrubError, Slice } from './scrub-pacing.ts';

/** Buffers per writev (IOV_MAX is 1024 on Linux). */
const MAX_IOV = 1024;
/** Lines appended during a scrub are scrubbed between turns of the loop too, until fewer bytes than this are left for the last, synchronous step. */
const LAST_STEP_BYTES = 64 << 10;
const MAX_ROUNDS = 8;
const NEWLINE = Buffer.from('\n');

export function scrubDeadLetters(path: string, rules: readonly ScrubRule[]): Promise<ScrubResult> {
  return oneAtATime(path, async () => {
    // A file replaced or cut meanwhile (by hand), or whose new lines alone need scrubbing, is
    // read again; a few times at most.
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await scrubOnce(path, rules);
      if (res !== 'again') return res;
    }
    throw scrubError('GATELOG_SCRUB_FILE_CHANGING', `the dead-letter file ${path} kept changing while it was scrubbed`);
  });
}

async function scrubOnce(path: string, rules: readonly ScrubRule[]): Promise<ScrubResult | 'again'> {
  const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
  const out: Buffer[] = [];
  let changed = false;
  let ino: number | null = null;
  // Whole lines only (the last may be still being written); then what was appended meanwhile,
  // while that is much, a few rounds at most.
  let done = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const read = await readFrom(path, done);
    if (!read) return { records: 0, bytes: 0, files: 0 };
    ino ??= read.ino;
    if (read.ino !== ino) return 'again';
    if (round > 0 && read.data.length <= LAST_STEP_BYTES) break;
    const whole = read.data.lastIndexOf(0x0a) + 1;
    if (whole === 0) break;
    changed = (await scrubLinesPaced(read.data.subarray(0, whole - 1), rules, res, out)) || changed;
    out.push(NEWLINE);
    done += whole;
  }
  const tmp = `${path}.scrub-${String(process.pid)}`;
  if (changed) {
    try {
      await writeTemp(tmp, out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
  // From here to the rename, synchronous: nothing is appended that is not read.
  const st = statOrNull(path);
  if (st?.ino !== ino || st.size < done) {
    if (changed) await rm(tmp, { force: true });
    return st === null ? { records: 0, bytes: 0, files: 0 } : 'again';
  }
  const tail = readRange(path, done, st.size);
  const tailOut: Buffer[] = [];
  const tailChanged = tail.length > 0 && scrubLinesNow(tail, rules, res, tailOut);
  if (!changed) return tailChanged ? 'again' : res;
  if (tail.length > 0) {
    const fd = openSync(tmp, 'a');
    try {
      for (const b of tailOut) writeSync(fd, b);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
  res.files = 1;
  return res;
}

/** One line scrubbed: the line to write, or null when it keeps its bytes. */
function scrubbedLine(line: Buffer, rules: readonly ScrubRule[], res: ScrubResult): Buffer | null {
  if (line.length === 0 || !rules.some((r) => r.needle === undefined || line.includes(r.needle))) return null;
  try {
    const dl = JSON.parse(line.toString('utf8')) as { record?: string };
    if (typeof dl.record !== 'string') return null;
    const next = scrubbedInPlace(Buffer.from(dl.record), rules);
    if (!next) return null;
    res.records++;
    res.bytes += Buffer.byteLength(dl.record);
    return Buffer.from(JSON.stringify({ ...dl, record: next.toString('utf8').trimEnd() }));
  } catch {
    return null;
  }
}

/** The lines of `data` (the pieces between '\n's, the last one included) scrubbed, the bytes to write added to `out`. */
class LineScrub {
  changed = false;
  #pos = 0;
  /** Start of the bytes kept as they are, not yet in `out`. */
  #kept = 0;
  readonly #data: Buffer;
  readonly #rules: readonly ScrubRule[];
  readonly #res: ScrubResult;
  readonly #out: Buffer[];

  constructor(data: Buffer, rules: readonly ScrubRule[], res: ScrubResult, out: Buffer[]) {
    this.#data = data;
    this.#rules = rules;
    this.#res = res;
    this.#out = out;
  }

  /** Scrubs lines until the last, or until `stop()`; returns whether the last is done. */
  run(stop: () => boolean): boolean {
    const data = this.#data;
    for (;;) {
      const nl = data.indexOf(0x0a, this.#pos);
      const end = nl === -1 ? data.length : nl;
      const next = scrubbedLine(data.subarray(this.#pos, end), this.#rules, this.#res);
      if (next) {
        this.changed = true;
        if (this.#pos > this.#kept) this.#out.push(data.subarray(this.#kept, this.#pos));
        this.#out.push(next);
        this.#kept = end;
      }
      if (nl === -1) break;
      this.#pos = nl + 1;
      if (stop()) return false;
    }
    if (data.length > this.#kept) this.#out.push(data.subarray(this.#kept));
    return true;
  }
}

async function scrubLinesPaced(data: Buffer, rules: readonly ScrubRule[], res: ScrubResult, out: Buffer[]): Promise<boolean> {
  const lines = new LineScrub(data, rules, res, out);
  const slice = new Slice();
  while (!lines.run(() => slice.due())) await slice.pause();
  return lines.changed;
}

function scrubLinesNow(data: Buffer, rules: readonly ScrubRule[], res: ScrubResult, out: Buffer[]): boolean {
  const lines = new LineScrub(data, rules, res, out);
  lines.run(() => false);
  return lines.changed;
}

/** The file's bytes from `from` to its end (as long as it was when opened), and its inode. */
async function readFrom(path: string, from: number): Promise<{ data: Buffer; ino: number } | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const { size, ino } = await fh.stat();
    const data = Buffer.allocUnsafe(Math.max(0, size - from));
    let got = 0;
    while (got < data.length) {
      const { bytesRead } = await fh.read(data, got, data.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: data.subarray(0, got), ino };
  } finally {
    await fh.close();
  }
}

function statOrNull(path: string): { ino: number; size: number } | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Bytes [from, to) of a file, read synchronously (what was appended during a scrub: little). */
function readRange(path: string, from: number, to: number): Buffer {
  if (to <= from) return Buffer.alloc(0);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(to - from);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, from));
  } finally {
    closeSync(fd);
  }
}

async function writeTemp(tmp: string, parts: readonly Buffer[]): Promise<void> {
  const fh = await open(tmp, 'w');
  try {
    let pos = 0;
    for (let i = 0; i < parts.length; i += MAX_IOV) {
      const batch = parts.slice(i, i + MAX_IOV);
      const n = batch.reduce((s, b) => s + b.length, 0);
      const { bytesWritten } = await fh.writev(batch, pos);
      if (bytesWritten !== n) throw scrubError('GATELOG_SCRUB_SHORT_WRITE', `short write to ${tmp} (${String(bytesWritten)}/${String(n)} bytes)`);
      pos += n;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

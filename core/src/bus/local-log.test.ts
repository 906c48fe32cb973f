import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLogReader, LocalLogWriter, listSegments, segmentName } from './local-log.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gatelog-log-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const rec = (i: number, pad = 0): Buffer => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(pad) }));
const ids = (records: Buffer[]): number[] => records.map((r) => (JSON.parse(r.toString()) as { i: number }).i);

/** Read everything from `from` in small steps, as a tailing consumer would. */
function readAll(reader: LocalLogReader, from = 0, step = 7): { records: Buffer[]; next: number; skipped: number } {
  const records: Buffer[] = [];
  let pos = from;
  let skipped = 0;
  for (;;) {
    const r = reader.read(pos, step);
    records.push(...r.records);
    skipped += r.skippedBytes;
    if (r.next === pos && r.records.length === 0) return { records, next: pos, skipped };
    pos = r.next;
  }
}

describe('LocalLogWriter / LocalLogReader', () => {
  it('round-trips records and reports end offsets', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, fsyncMs: 0 });
    const ends = [0, 1, 2].map((i) => w.append(rec(i)));
    expect(ends[2]).toBe(w.endOffset);
    expect(ends[0]).toBe(8 + rec(0).length);
    const r = new LocalLogReader(dir).read(0, 100);
    expect(ids(r.records)).toEqual([0, 1, 2]);
    expect(r.next).toBe(w.endOffset);
    expect(r.skippedBytes).toBe(0);
    expect(new LocalLogReader(dir).endOffset()).toBe(w.endOffset);
    w.close();
  });

  it('read stops at maxBytes of payload, but always returns a first record larger than that', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, fsyncMs: 0 });
    const sizes = [100, 100, 100, 1000, 100];
    sizes.forEach((pad, i) => w.append(rec(i, pad)));
    const reader = new LocalLogReader(dir);
    const len = (i: number): number => rec(i, sizes[i]).length;
    const two = reader.read(0, 100, len(0) + len(1) + len(2) - 1);
    expect(ids(two.records)).toEqual([0, 1]);
    expect(two.full).toBe(true);
    const third = reader.read(two.next, 100, len(2));
    expect(ids(third.records)).toEqual([2]);
    const big = reader.read(third.next, 100, 10);
    expect(ids(big.records)).toEqual([3]); // alone: larger than the budget
    expect(big.full).toBe(true);
    const rest = reader.read(big.next, 100, 1 << 20);
    expect(ids(rest.records)).toEqual([4]);
    expect(rest.full).toBe(false); // the log ended first
    expect(reader.read(0, 2).full).toBe(true); // maxRecords reached
    w.close();
  });

  it('appendBatched: the records of one turn in order, interleaved with sync appends, across segment rolls; each caller told once its record is in', async () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 300, fsyncMs: 0, tailBytes: 1 << 20 });
    const done: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 7) w.append(rec(i)); // a sync append flushes what was queued before it
      else {
        w.appendBatched(rec(i, i % 3), (err) => {
          expect(err).toBeNull();
          // Told only once the record can be read back from the file.
          seen.push(ids(readAll(new LocalLogReader(dir), 0, 1000).records).includes(i) ? i : -1);
          done.push(i);
        });
      }
    }
    await new Promise((r) => setImmediate(r));
    expect(done).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 10 !== 7));
    expect(seen).not.toContain(-1);
    expect(ids(readAll(new LocalLogReader(dir), 0, 1000).records)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(listSegments(dir).length).toBeGreaterThan(3);
    // The tail holds the same records, in the same order.
    expect(ids(w.tail!.read(0, 1000)!.records)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // close() writes what is still queued.
    let last: Error | null | undefined;
    w.appendBatched(rec(40), (err) => (last = err));
    w.close();
    expect(last).toBeNull();
    expect(ids(readAll(new LocalLogReader(dir), 0, 1000).records).at(-1)).toBe(40);
    expect(() => w.appendBatched(rec(41), () => undefined)).toThrow(expect.objectContaining({ code: 'GATELOG_LOG_CLOSED' }) as Error);
  });

  it('rejects empty records and appends after close', () => {
    const w = new LocalLogWriter({ dir: tmp(), fsyncMs: 0 });
    expect(() => w.append(Buffer.alloc(0))).toThrow(RangeError);
    w.close();
    expect(() => w.append(rec(1))).toThrow(expect.objectContaining({ code: 'GATELOG_LOG_CLOSED' }) as Error);
  });

  it('reads across segment rolls and resumes from any returned offset', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 200, fsyncMs: 0 });
    for (let i = 0; i < 50; i++) w.append(rec(i, i % 5));
    w.close();
    const segs = listSegments(dir);
    expect(segs.length).toBeGreaterThan(5);
    const reader = new LocalLogReader(dir);
    const all = readAll(reader);
    expect(ids(all.records)).toEqual([...Array(50).keys()]);
    expect(all.next).toBe(w.endOffset);

    // Resume from the offset a first read stopped at.
    const first = reader.read(0, 13);
    expect(ids(first.records)).toEqual([...Array(13).keys()]);
    expect(ids(readAll(reader, first.next).records)).toEqual([...Array(37).keys()].map((i) => i + 13));
    // Resuming exactly at a segment boundary works too.
    const boundary = segs[3] ?? 0;
    expect(ids(readAll(reader, boundary).records)[0]).toBeGreaterThan(0);
  });

  it('reads a record larger than its read buffer', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, fsyncMs: 0 });
    w.append(rec(0));
    w.append(rec(1, 5 << 20));
    w.append(rec(2));
    w.close();
    const r = new LocalLogReader(dir).read(0, 10);
    expect(ids(r.records)).toEqual([0, 1, 2]);
    expect(r.records[1]?.length).toBeGreaterThan(5 << 20);
  });

  it('cuts a torn last record on reopen; the reader never returns torn bytes', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, fsyncMs: 0 });
    w.append(rec(0));
    w.append(rec(1));
    const good = w.endOffset;
    w.close();
    const path = join(dir, segmentName(0));
    // Half a record: a plausible header and a payload cut short, as a crash mid-write leaves.
    const torn = Buffer.alloc(8 + 10);
    torn.writeUInt32LE(100, 0);
    torn.writeUInt32LE(12345, 4);
    appendFileSync(path, torn);
    const reader = new LocalLogReader(dir);
    const before = reader.read(0, 10);
    expect(ids(before.records)).toEqual([0, 1]);
    expect(before.next).toBe(good);

    const w2 = new LocalLogWriter({ dir, fsyncMs: 0 });
    expect(w2.tornBytes).toBe(torn.length);
    expect(statSync(path).size).toBe(good);
    expect(w2.append(rec(2))).toBe(good + 8 + rec(2).length);
    w2.close();
    expect(ids(readAll(reader).records)).toEqual([0, 1, 2]);
  });

  it('cuts garbage with a bad checksum at the tail', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, fsyncMs: 0 });
    w.append(rec(0));
    w.close();
    const bad = Buffer.concat([Buffer.alloc(8), Buffer.from('garbage!')]);
    bad.writeUInt32LE(8, 0);
    bad.writeUInt32LE(1, 4);
    appendFileSync(join(dir, segmentName(0)), bad);
    expect(ids(new LocalLogReader(dir).read(0, 10).records)).toEqual([0]);
    const w2 = new LocalLogWriter({ dir, fsyncMs: 0 });
    expect(w2.tornBytes).toBe(bad.length);
    w2.append(rec(1));
    w2.close();
    expect(ids(readAll(new LocalLogReader(dir)).records)).toEqual([0, 1]);
  });

  it('skips and counts a corrupted record in a sealed segment, keeping the records after it', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 300, fsyncMs: 0 });
    for (let i = 0; i < 30; i++) w.append(rec(i));
    w.close();
    const first = listSegments(dir)[0] ?? 0;
    const path = join(dir, segmentName(first));
    const recLen = 8 + rec(0).length;
    // Flip one payload byte of the second record of the first (sealed) segment.
    const data = readFileSync(path);
    const at = recLen + 8 + 3;
    data[at] = (data[at] ?? 0) ^ 0xff;
    writeFileSync(path, data);
    const all = readAll(new LocalLogReader(dir), 0, 100);
    expect(ids(all.records)).toEqual([...Array(30).keys()].filter((i) => i !== 1));
    expect(all.skipped).toBe(recLen);
  });

  it('skips trailing garbage in a sealed segment', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 100, fsyncMs: 0 });
    for (let i = 0; i < 10; i++) w.append(rec(i));
    w.close();
    const first = listSegments(dir)[0] ?? 0;
    appendFileSync(join(dir, segmentName(first)), Buffer.from('zzzzz'));
    const all = readAll(new LocalLogReader(dir), 0, 100);
    expect(ids(all.records)).toEqual([...Array(10).keys()]);
    expect(all.skipped).toBe(5);
  });

  it('a reader tailing a live writer sees every record exactly once, in order', async () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 1000, fsyncMs: 5 });
    const reader = new LocalLogReader(dir);
    const seen: number[] = [];
    let pos = 0;
    let wakes = 0;
    const off = w.onAppend(() => wakes++);
    for (let i = 0; i < 400; i++) {
      w.append(rec(i, i % 17));
      if (i % 9 === 0) {
        const r = reader.read(pos, 5);
        seen.push(...ids(r.records));
        pos = r.next;
      }
      if (i % 50 === 0) await new Promise((res) => setTimeout(res, 1));
    }
    off();
    w.append(rec(400));
    seen.push(...ids(readAll(reader, pos).records));
    w.close();
    expect(seen).toEqual([...Array(401).keys()]);
    expect(wakes).toBe(400);
  });

  it('a throwing append listener does not fail the append', () => {
    const errors: Error[] = [];
    const w = new LocalLogWriter({ dir: tmp(), fsyncMs: 0, onError: (e) => errors.push(e) });
    w.onAppend(() => {
      throw new Error('listener bug');
    });
    expect(w.append(rec(0))).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    w.close();
  });

  it('prune removes consumed sealed segments but never the active one', async () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 100, fsyncMs: 0 });
    for (let i = 0; i < 20; i++) w.append(rec(i));
    const segs = listSegments(dir);
    const reader = new LocalLogReader(dir);
    const third = segs[2] ?? 0;
    expect(await reader.prune(third)).toBe(2);
    expect(listSegments(dir)).toEqual(segs.slice(2));
    // Reading from a pruned offset starts at the oldest remaining segment.
    expect(reader.read(0, 1).records).toHaveLength(1);
    expect(await reader.prune(w.endOffset)).toBe(segs.length - 3);
    expect(listSegments(dir)).toEqual([segs.at(-1)]);
    // The writer keeps appending to the surviving active segment.
    w.append(rec(20));
    w.close();
    expect(ids(readAll(reader, w.endOffset - 8 - rec(20).length).records)).toEqual([20]);
  });

  it('pruneSync removes the same segments as prune, on the calling thread', () => {
    const dir = tmp();
    const w = new LocalLogWriter({ dir, segmentBytes: 100, fsyncMs: 0 });
    for (let i = 0; i < 20; i++) w.append(rec(i));
    const segs = listSegments(dir);
    const reader = new LocalLogReader(dir);
    expect(reader.pruneSync(segs[3] ?? 0)).toBe(3);
    expect(listSegments(dir)).toEqual(segs.slice(3));
    expect(reader.pruneSync(segs[3] ?? 0)).toBe(0);
    expect(reader.pruneSync(w.endOffset)).toBe(segs.length - 4);
    expect(listSegments(dir)).toEqual([segs.at(-1)]);
    w.close();
  });
});

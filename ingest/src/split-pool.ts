// The block split's worker thread (body-split-worker.ts) and what crosses to it. A record goes
// over as a fresh copy that is moved, not cloned: a record is often a view of a larger read (a
// fetched Kafka batch, a slice of the local log), and a structured clone copies a view's whole
// backing memory. The answer comes back the same way: the split record and every block's bytes
// in one buffer, moved (a clone of the record and of each block string cost ~0.3 ms per 64 KB
// event). One task per record: a task of many large records (tried: up to 16 MiB) held the one
// core an embedded gatelog has for that long, and cut its calls per second by ~12%.
import { Piscina } from 'piscina';
import type { BlockSplit } from './body-blocks.ts';

/** One task's input: records back to back in `data`. */
export interface SplitTask {
  data: Uint8Array;
  lengths: number[];
  minBody: number;
  wholeTeams: readonly string[];
}

interface PackedSplit {
  recordLength: number;
  hashes: string[];
  lengths: number[];
}

/** A task's answer: per record its split (null: stored as it came), the bytes all in `out`. */
export interface PackedSplits {
  out: Uint8Array;
  splits: (PackedSplit | null)[];
}

export function packSplits(splits: readonly (BlockSplit | null)[]): PackedSplits {
  let length = 0;
  for (const s of splits) if (s) for (const b of [s.record, ...s.blocks.map((x) => x.data)]) length += b.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  const packed = splits.map((s) => {
    if (!s) return null;
    at += s.record.copy(out, at);
    for (const b of s.blocks) at += b.data.copy(out, at);
    return { recordLength: s.record.length, hashes: s.blocks.map((b) => b.hash), lengths: s.blocks.map((b) => b.data.length) };
  });
  return { out, splits: packed };
}

export function unpackSplits(p: PackedSplits): (BlockSplit | null)[] {
  let at = 0;
  const view = (length: number): Buffer => {
    const b = Buffer.from(p.out.buffer, p.out.byteOffset + at, length);
    at += length;
    return b;
  };
  return p.splits.map((s) => {
    if (!s) return null;
    const record = view(s.recordLength);
    return { record, blocks: s.hashes.map((hash, k) => ({ hash, data: view(s.lengths[k]!) })) };
  });
}

/** The records of a task, read back in the worker. */
export function taskRecords(t: SplitTask): Buffer[] {
  let at = 0;
  return t.lengths.map((n) => {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset + at, n);
    at += n;
    return b;
  });
}

let pool: Piscina<SplitTask, PackedSplits> | null = null;
function splitPool(): Piscina<SplitTask, PackedSplits> {
  // One thread, started on the first large event and gone after a minute without one.
  pool ??= new Piscina({ filename: new URL('./body-split-worker.ts', import.meta.url).href, minThreads: 0, maxThreads: 1, idleTimeout: 60_000 });
  return pool;
}

/** splitRecord of each record, in the worker thread; throws where the worker failed. */
export async function splitInWorker(records: readonly Buffer[], minBody: number, wholeTeams: readonly string[]): Promise<(BlockSplit | null)[]> {
  const out: (BlockSplit | null)[] = [];
  for (const record of records) {
    const data = Buffer.allocUnsafeSlow(record.length);
    record.copy(data);
    const task: SplitTask = { data, lengths: [record.length], minBody, wholeTeams };
    out.push(...unpackSplits(await splitPool().run(task, { transferList: [data.buffer] })));
  }
  return out;
}

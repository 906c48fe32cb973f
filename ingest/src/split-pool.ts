// The block split's worker thread (body-split-worker.ts) and what crosses to it. A record goes
// over as a fresh copy that is moved, not cloned: a record is often a view of a larger read (a
// fetched Kafka batch, a slice of the local log), and a structured clone copies a view's whole
// backing memory. The answer comes back the same way: the split record and every block's bytes
// in one buffer, moved (a clone of the record and of each block string cost ~0.3 ms per 64 KB
// event). One task per record: a task of many large records (tried: up to 16 MiB) held the one
// core an embedded gatelog has for that long, and cut its calls per second by ~12%.
import { Piscina } from 'piscina';
import type { BlockSplit } from './record-split.ts';

/** One task's input: a record's own copy. */
export interface SplitTask {
  record: Uint8Array;
  minBody: number;
  wholeTeams: readonly string[];
}

/** A split as it comes back: the record, then each block's bytes, all in `out`. */
export interface PackedSplit {
  out: Uint8Array;
  recordLength: number;
  hashes: string[];
  lengths: number[];
}

export function packSplit(s: BlockSplit): PackedSplit {
  let length = s.record.length;
  for (const b of s.blocks) length += b.data.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = s.record.copy(out, 0);
  for (const b of s.blocks) at += b.data.copy(out, at);
  return { out, recordLength: s.record.length, hashes: s.blocks.map((b) => b.hash), lengths: s.blocks.map((b) => b.data.length) };
}

export function unpackSplit(p: PackedSplit): BlockSplit {
  let at = 0;
  const view = (length: number): Buffer => {
    const b = Buffer.from(p.out.buffer, p.out.byteOffset + at, length);
    at += length;
    return b;
  };
  const record = view(p.recordLength);
  return { record, blocks: p.hashes.map((hash, k) => ({ hash, data: view(p.lengths[k]!) })) };
}

let pool: Piscina<SplitTask, PackedSplit | null> | null = null;
function splitPool(): Piscina<SplitTask, PackedSplit | null> {
  // One thread, started on the first large event and gone after a minute without one.
  pool ??= new Piscina({ filename: new URL('./body-split-worker.ts', import.meta.url).href, minThreads: 0, maxThreads: 1, idleTimeout: 60_000 });
  return pool;
}

/** splitRecord of each record, in the worker thread; throws where the worker failed. */
export async function splitInWorker(records: readonly Buffer[], minBody: number, wholeTeams: readonly string[]): Promise<(BlockSplit | null)[]> {
  const out: (BlockSplit | null)[] = [];
  for (const record of records) {
    const copy = Buffer.allocUnsafeSlow(record.length);
    record.copy(copy);
    const packed = await splitPool().run({ record: copy, minBody, wholeTeams } satisfies SplitTask, { transferList: [copy.buffer] });
    out.push(packed && unpackSplit(packed));
  }
  return out;
}

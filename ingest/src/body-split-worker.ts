// Runs splitRecord (body-blocks.ts) off the main thread: splitting a megabyte-sized event takes
// milliseconds, which in the embedded mode would hold the proxy's event loop (every other
// tenant's calls) for that long. What crosses, and how: split-pool.ts.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { splitRecord } from './body-blocks.ts';
import { packSplit, type PackedSplit, type SplitTask } from './split-pool.ts';

export default function split(task: SplitTask): PackedSplit | null {
  const s = splitRecord(Buffer.from(task.record.buffer, task.record.byteOffset, task.record.byteLength), task.minBody, task.wholeTeams);
  if (!s) return null;
  const packed = packSplit(s);
  // Piscina sends the value with its buffer in the transfer list; the caller receives `packed`.
  return move({ [transferableSymbol]: [packed.out.buffer], [valueSymbol]: packed }) as unknown as PackedSplit;
}

// Runs splitRecord (body-blocks.ts) off the main thread: splitting a megabyte-sized event takes
// milliseconds, which in the embedded mode would hold the proxy's event loop (every other
// tenant's calls) for that long. What crosses, and how: split-pool.ts.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { splitRecord } from './body-blocks.ts';
import { packSplits, taskRecords, type PackedSplits, type SplitTask } from './split-pool.ts';

export default function split(task: SplitTask): PackedSplits {
  const packed = packSplits(taskRecords(task).map((r) => splitRecord(r, task.minBody, task.wholeTeams)));
  // Piscina sends the value with its buffer in the transfer list; the caller receives `packed`.
  return move({ [transferableSymbol]: [packed.out.buffer], [valueSymbol]: packed }) as unknown as PackedSplits;
}

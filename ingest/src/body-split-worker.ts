// Runs splitRecord (body-blocks.ts) off the main thread: parsing, splitting and re-serialising
// a megabyte-sized event takes tens of milliseconds, which in the embedded mode would hold the
// proxy's event loop (every other tenant's calls) for that long.
import { splitRecord, type BlockSplit, type SplitTask } from './body-blocks.ts';

export default function split(task: SplitTask): BlockSplit | null {
  return splitRecord(Buffer.from(task.record.buffer, task.record.byteOffset, task.record.byteLength), task.minBody, task.wholeTeams);
}

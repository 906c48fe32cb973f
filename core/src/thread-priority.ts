// Background threads yield to the request thread. In the embedded mode ClickHouse (chDB) runs
// inside the proxy's process: its insert pipeline and part merges would otherwise compete on
// equal terms with the event loop that serves calls, and every wakeup of one of them can
// preempt a request mid-flight. Lowering their scheduling priority (nice) keeps the hot path
// first while ingest still gets every idle cycle — the same idea as RocksDB's low-priority
// compaction pool. Linux schedules threads individually, so setpriority() on a thread id
// affects that thread only.
//
// Which threads: everything except the event loop itself (tid = pid), V8's platform workers
// (they run GC work the event loop would otherwise do itself) and Node's signal/inspector
// thread. libuv's pool is lowered too: chDB runs each query's calling side on it (parsing an
// insert's rows, for one), and nothing a call waits for runs there — the event log append is
// synchronous on the event loop, the proxy's upstream connections are kept alive. ClickHouse
// names its threads freely and creates them on demand, so the set is rescanned periodically.
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const KEEP = /^(V8Worker|SignalInspector)/;
const TASKS = '/proc/self/task';

export interface BackgroundPriority {
  /** Threads lowered so far (still alive at the last scan). */
  lowered(): number;
  stop(): void;
}

/** `nice`: how much lower than the event loop (added to its niceness, capped at 19). */
export function lowerBackgroundThreads(o: { nice: number; everyMs?: number; onError?: (err: Error) => void }): BackgroundPriority {
  const done = new Set<number>();
  if (process.platform !== 'linux' || o.nice <= 0) return { lowered: () => 0, stop: () => {} };
  let reported = false;
  // Relative to the event loop's own niceness: a gatelog started under `nice` keeps the gap
  // (and an unprivileged process could not go below its current value anyway).
  const target = Math.min(19, getPriority(process.pid) + o.nice);
  const scan = (): void => {
    let tids: string[];
    try {
      tids = readdirSync(TASKS);
    } catch {
      return; // no /proc (a container without it): nothing to do
    }
    const alive = new Set<number>();
    for (const t of tids) {
      const tid = Number(t);
      alive.add(tid);
      if (tid === process.pid || done.has(tid)) continue;
      let name: string;
      try {
        name = readFileSync(`${TASKS}/${t}/comm`, 'utf8').trim();
      } catch {
        continue; // exited between the listing and the read
      }
      if (KEEP.test(name)) continue;
      try {
        setPriority(tid, target);
        done.add(tid);
      } catch (err) {
        // Not fatal (a seccomp profile may forbid it); say so once.
        if (!reported) o.onError?.(err as Error);
        reported = true;
      }
    }
    // Thread ids are reused: forget the ones that exited so a new thread gets looked at.
    for (const tid of done) if (!alive.has(tid)) done.delete(tid);
  };
  scan();
  const timer = setInterval(scan, o.everyMs ?? 1000);
  timer.unref();
  return { lowered: () => done.size, stop: () => clearInterval(timer) };
}

// CPU time of a process per thread name, from /proc (Linux only; empty elsewhere). A CPU
// profile shows only the JS main thread; in embedded mode chDB's native threads and the
// libuv pool share the pinned core with it, and this is how their share is seen.
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on every mainstream Linux). */
const USER_HZ = 100;

export type ThreadCpu = Map<string, number>;

/** CPU seconds used so far by each thread name (threads of one name summed). */
export function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // comm is in parentheses and may contain spaces; fields after it are space-separated.
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const rawName = stat.slice(open + 1, close);
      // Thread pools number their threads; group them ("libuv-worker", "ChdbPool 3" → "ChdbPool").
      const name = tid === String(pid) ? 'main (JS event loop)' : rawName.replace(/[\s_-]*\d+$/, '') || rawName;
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
      out.set(name, (out.get(name) ?? 0) + ticks / USER_HZ);
    } catch {
      // The thread exited between readdir and read.
    }
  }
  return out;
}

/** CPU seconds per thread name between two readings, largest first. */
export function cpuDelta(before: ThreadCpu, after: ThreadCpu): [string, number][] {
  const out: [string, number][] = [];
  for (const [name, s] of after) {
    const d = s - (before.get(name) ?? 0);
    if (d > 0) out.push([name, d]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

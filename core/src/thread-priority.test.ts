import { getPriority } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { lowerBackgroundThreads, type BackgroundPriority } from './thread-priority.ts';

const linux = process.platform === 'linux';
let bg: BackgroundPriority | undefined;
afterEach(() => bg?.stop());

/** Thread id → name of this process's threads. */
function threads(): Map<number, string> {
  return new Map(readdirSync('/proc/self/task').map((t) => [Number(t), readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim()]));
}

describe.runIf(linux)('lowerBackgroundThreads', () => {
  it('lowers other threads, never the event loop or the V8 workers, and picks up new threads', async () => {
    // A worker thread stands in for a library's background thread (its name is not kept).
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true, name: 'bg-test' });
    await new Promise((r) => worker.once('online', r));
    try {
      // Relative to the process's own niceness (the suite may itself run under `nice`).
      const base = getPriority(process.pid);
      const want = Math.min(19, base + 7);
      bg = lowerBackgroundThreads({ nice: 7, everyMs: 20 });
      const byName = threads();
      expect(getPriority(process.pid)).toBe(base);
      let lowered = 0;
      for (const [tid, name] of byName) {
        if (tid === process.pid || /^(V8Worker|SignalInspector)/.test(name)) expect(getPriority(tid), name).toBe(base);
        else if (getPriority(tid) === want) lowered++;
      }
      expect(lowered).toBeGreaterThan(0);
      expect(bg.lowered()).toBe(lowered);

      // A thread started later is lowered by the next scan.
      const before = new Set(byName.keys());
      const late = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((r) => late.once('online', r));
      await new Promise((r) => setTimeout(r, 100));
      const fresh = [...threads()].filter(([tid, name]) => !before.has(tid) && !/^(V8Worker|SignalInspector)/.test(name));
      expect(fresh.length).toBeGreaterThan(0);
      for (const [tid] of fresh) expect(getPriority(tid)).toBe(want);
      await late.terminate();
    } finally {
      await worker.terminate();
    }
  });

  it('does nothing at nice 0', () => {
    bg = lowerBackgroundThreads({ nice: 0 });
    expect(bg.lowered()).toBe(0);
  });
});

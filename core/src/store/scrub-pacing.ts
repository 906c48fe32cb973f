// How a scrub of the files under a data dir shares the process: it gives the event loop back
// every SLICE_MS of parsing (every tenant's calls wait on that loop), and scrubs of one file or
// directory run one at a time (each writes back what it read: two interleaved could put back a
// field the other had emptied).
import { resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** Longest run of synchronous work before a scrub lets the event loop run. */
export const SLICE_MS = 4;

/** A scrub's synchronous work since it last let the event loop run. */
export class Slice {
  #start = performance.now();

  /** After an await: the loop has just run. */
  restart(): void {
    this.#start = performance.now();
  }

  /** SLICE_MS of work since the loop last ran (checked per record: no promise unless due). */
  due(): boolean {
    return performance.now() - this.#start >= SLICE_MS;
  }

  /** Lets the event loop run its timers and I/O. */
  async pause(): Promise<void> {
    await yieldToLoop();
    this.restart();
  }
}

const running = new Map<string, Promise<unknown>>();

/** Runs `job` once every scrub of `path` this process started before it has ended. */
export function oneAtATime<T>(path: string, job: () => Promise<T>): Promise<T> {
  const key = resolve(path);
  const result = (running.get(key) ?? Promise.resolve()).then(job);
  const settled = result.then(() => undefined, () => undefined);
  running.set(key, settled);
  void settled.then(() => {
    if (running.get(key) === settled) running.delete(key);
  });
  return result;
}

export function scrubError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

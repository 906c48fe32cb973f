// A consumer's committed position in a local event log (or the Kafka spool), kept in a small
// JSON file replaced atomically: write a temp file, fsync it, rename it over, fsync the directory.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A consumer's committed position, stored atomically (write + fsync + rename). */
export class OffsetFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  load(): number {
    return this.loadState().offset;
  }

  /**
   * The committed offset plus the batch that was being inserted when the state was written
   * (`pending`: log range [start, end)). After a crash the consumer re-forms exactly that batch,
   * so its deterministic dedup token lets ClickHouse drop the replay at insert time.
   */
  loadState(): { offset: number; pending: { start: number; end: number } | undefined } {
    const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    try {
      const v = JSON.parse(readFileSync(this.path, 'utf8')) as { offset?: unknown; pending?: { start?: unknown; end?: unknown }; id?: unknown };
      const offset = ok(v.offset) ? v.offset : 0;
      const p = v.pending;
      const pending = p && ok(p.start) && ok(p.end) && p.start === offset && p.end > p.start ? { start: p.start, end: p.end } : undefined;
      if (typeof v.id === 'string' && /^[0-9a-f]{16,64}$/.test(v.id)) this.#id = v.id;
      return { offset, pending };
    } catch {
      return { offset: 0, pending: undefined };
    }
  }

  #id: string | undefined;

  /** A random identity kept with the offset: it scopes dedup tokens to this log's lifetime. */
  get id(): string {
    if (this.#id === undefined) this.loadState();
    this.#id ??= randomBytes(8).toString('hex');
    return this.#id;
  }

  #content(offset: number, pending: { start: number; end: number } | undefined): string {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid log offset ${offset}`);
    return JSON.stringify({ offset, ...(pending ? { pending } : {}), id: this.id, at: new Date().toISOString() });
  }

  /**
   * `store` for a thread of its own (the Kafka spool relay): the same steps as blocking calls on
   * the calling thread. Each of `store`'s steps is a round trip through libuv's pool — eight
   * wake-ups of a pool thread and of the caller per commit, on whatever core the process has —
   * where a thread with nothing else to do can simply wait.
   */
  storeSync(offset: number, pending?: { start: number; end: number }): void {
    const content = this.#content(offset, pending);
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    try {
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch {
      // As in store(): a lost rename only means a replay.
    }
  }

  /**
   * Store atomically without blocking the event loop: the write and both fsyncs run on libuv's
   * thread pool. Each fsync can take milliseconds on a real disk, which a proxy serving requests
   * on the same thread must not spend waiting. Callers must not overlap two calls on one file.
   */
  async store(offset: number, pending?: { start: number; end: number }): Promise<void> {
    const content = this.#content(offset, pending);
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    try {
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // Some filesystems refuse fsync on a directory; a lost rename only means a replay.
    }
  }
}

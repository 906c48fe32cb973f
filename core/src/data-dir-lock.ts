// One gatelog process per data dir. Two processes appending to one event log or spool would
// interleave their records and lose calls without a word (neither log takes a lock of its own);
// two embedded stores fail later with an engine error naming a ClickHouse file. The launcher
// takes this lock first, so the second process stops at once saying which process holds it.
//
// The lock is a file (`gatelog.lock`: pid, host, start) whose mtime the holder renews every
// STALE_MS / 4. A holder that died leaves a file that stops being renewed: after STALE_MS it
// is taken over. Known stale at once: a lock of this host whose pid is gone, or one naming this
// very process (a container restarted in place runs as the same pid). A live holder on this
// host is refused at once; a lock written by another host (a re-created container, a shared
// volume) is waited out for up to STALE_MS.
// Volumes shared between hosts must keep mtimes (local disks and block volumes do).
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_FILE = 'gatelog.lock';
export const STALE_MS = 10_000;

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  readonly code = 'GATELOG_ERR_DATA_DIR_LOCKED';
}

interface Holder {
  pid: number;
  host: string;
  started_at: string;
  token: string;
}

export interface DataDirLock {
  /** Stop renewing and remove the lock (if it is still this process's). */
  release(): void;
}

export interface LockOptions {
  staleMs?: number;
  /** This process as the lock names it (tests). */
  pid?: number;
  host?: string;
}

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string' ? (h as Holder) : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `h` as the lock: a new file when there is none, else atomically over a stale one. */
function write(path: string, h: Holder, replace: boolean): boolean {
  const text = JSON.stringify(h);
  if (!replace) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return true;
  }
  const tmp = `${path}.${h.token}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return true;
}

const describe = (h: Holder | null): string => (h ? `pid ${h.pid} on ${h.host}, since ${h.started_at}` : 'a process whose lock file is unreadable');

/**
 * Takes the data dir's lock or throws DataDirLockedError naming the holder. Waits up to
 * `staleMs` for a lock another host left without renewing it.
 */
export async function lockDataDir(dataDir: string, o: LockOptions = {}): Promise<DataDirLock> {
  const staleMs = o.staleMs ?? STALE_MS;
  const me: Holder = { pid: o.pid ?? process.pid, host: o.host ?? hostname(), started_at: new Date().toISOString(), token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}` };
  const path = join(dataDir, LOCK_FILE);
  const deadline = Date.now() + staleMs + staleMs / 2;
  for (;;) {
    if (write(path, me, false)) break;
    const h = readHolder(path);
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released meanwhile: try again
    }
    const stale = age > staleMs || (h !== null && h.host === me.host && (h.pid === me.pid || !alive(h.pid)));
    if (stale) {
      write(path, me, true);
      // Two processes that found it stale together both wrote: the last one holds it.
      await sleep(50);
      if (readHolder(path)?.token === me.token) break;
      throw new DataDirLockedError(`data dir ${dataDir} is in use by another gatelog process (${describe(readHolder(path))}); give each process its own data dir`);
    }
    // A live process of this host, renewing it: no reason to wait.
    if (Date.now() >= deadline || (h !== null && h.host === me.host)) {
      throw new DataDirLockedError(`data dir ${dataDir} is in use by another gatelog process (${describe(h)}); give each process its own data dir, or stop that one (a lock not renewed for ${staleMs / 1000} s is taken over)`);
    }
    await sleep(Math.min(500, staleMs / 4));
  }
  const renew = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // The dir went away (a test's temp dir): nothing to renew.
    }
  }, Math.max(50, staleMs / 4));
  renew.unref();
  return {
    release() {
      clearInterval(renew);
      if (readHolder(path)?.token !== me.token) return;
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
  };
}

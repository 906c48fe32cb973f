import { mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from './data-dir-lock.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'gatelog-lock-'));

describe('lockDataDir', () => {
  it('refuses a second process while the first renews its lock, naming the holder', async () => {
    const d = dir();
    const first = await lockDataDir(d, { staleMs: 400, host: 'host-a' });
    const t0 = Date.now();
    const second = lockDataDir(d, { staleMs: 400, host: 'host-b' });
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(new RegExp(`pid ${process.pid} on host-a`));
    // It waited the stale period out (the holder might have been gone), and the renewals kept it.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    first.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    (await lockDataDir(d, { staleMs: 400, host: 'host-b' })).release();
  });

  it('takes over at once a lock of this host whose process is gone', async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: 'host-a', started_at: 'x', token: 'dead' }));
    const t0 = Date.now();
    const lock = await lockDataDir(d, { staleMs: 5000, host: 'host-a' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: 'host-a' });
    lock.release();
  });

  it('takes over a lock another host stopped renewing', async () => {
    const d = dir();
    const path = join(d, LOCK_FILE);
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'gone-host', started_at: 'x', token: 'old' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = await lockDataDir(d, { staleMs: 5000, host: 'host-b' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ host: 'host-b' });
    lock.release();
  });

  it('leaves a lock it no longer holds alone on release', async () => {
    const d = dir();
    const lock = await lockDataDir(d, { staleMs: 5000, host: 'host-a' });
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: 7, host: 'host-z', started_at: 'x', token: 'theirs' }));
    lock.release();
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ token: 'theirs' });
  });
});

// The proxy and ingest worker processes the distributed e2e tests start: one that never comes
// up (here a preloaded module that prints its pid and hangs before main runs) is killed when
// the start gives up, and is gone by the time the start rejects, instead of outliving the run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startProxyProcess } from './distributed-proxy-process.ts';
import { startWorker } from './distributed-worker-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatelog-hung-start-'));
const config = join(dir, 'gatelog.yaml');
writeFileSync(config, '{}\n');
const hang = join(dir, 'hang.mjs');
writeFileSync(hang, "process.stdout.write(`hung pid=${process.pid}\\n`);\nsetInterval(() => undefined, 60_000);\nawait new Promise(() => undefined);\n");
const HUNG = { NODE_OPTIONS: `--import=${pathToFileURL(hang).href}` };
const seen: number[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** The pid the hung child printed, taken from the start's error (which carries its output). */
async function hungPid(start: Promise<unknown>): Promise<{ pid: number; message: string }> {
  const err = await start.then(() => new Error('the start resolved'), (e: unknown) => e as Error);
  const pid = Number(/hung pid=(\d+)/.exec(err.message)?.[1]);
  expect(pid, err.message).toBeGreaterThan(0);
  seen.push(pid);
  return { pid, message: err.message };
}

afterAll(() => {
  // Only if the assertions below failed: leave nothing behind.
  for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('a process that never comes up', () => {
  it('the proxy is killed, and gone, when its start times out', { timeout: 10_000 }, async () => {
    const { pid, message } = await hungPid(startProxyProcess(config, dir, HUNG, 2_000));
    expect(message).toContain('proxy not listening within 2 s');
    expect(alive(pid)).toBe(false);
  });

  it('the ingest worker is killed, and gone, when its start times out', { timeout: 10_000 }, async () => {
    const { pid, message } = await hungPid(startWorker(config, dir, HUNG, 2_000));
    expect(message).toContain('ingest worker not listening within 2 s');
    expect(alive(pid)).toBe(false);
  });
});

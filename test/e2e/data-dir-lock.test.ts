// One gatelog per data dir, with real `gatelog start` processes: a second process on a data dir
// in use stops at once with a message naming the holder (and the first keeps serving); after a
// graceful stop, or a SIGKILL, the next process on that data dir starts without waiting.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const running: GatelogProcess[] = [];

afterAll(async () => {
  for (const g of running) await g.stop().catch(() => undefined);
});

function secondStart(dataDir: string): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATELOG_')));
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'start', '--port', '0', '--data-dir', dataDir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => proc.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, out, ms: Date.now() - t0 });
  }));
}

describe('one gatelog per data dir', () => {
  it('a second process on a data dir in use stops, naming the holder; the first keeps serving', async () => {
    const first = await startGatelog({ timeoutMs: 60_000 });
    running.push(first);
    const second = await secondStart(first.dataDir);
    expect(second.code).toBe(1);
    // Refused at once (a live holder on this host), not after the stale period's wait.
    expect(second.ms).toBeLessThan(10_000);
    expect(second.out).toContain(`data dir ${first.dataDir} is in use by another gatelog process (pid ${first.proc.pid}`);
    expect(second.out).not.toMatch(/\n\s+at /);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
  }, 90_000);

  it('the next process starts at once after a graceful stop or a SIGKILL', async () => {
    const a = await startGatelog({ timeoutMs: 60_000 });
    await a.stop();
    const b = await startGatelog({ dataDir: a.dataDir, timeoutMs: 60_000 });
    await b.kill9();
    const c = await startGatelog({ dataDir: a.dataDir, timeoutMs: 60_000 });
    running.push(c);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  }, 150_000);
});

// Real processes: a child that runs exitOnSignals, a real SIGTERM, and the watchdog process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SHUTDOWN = fileURLToPath(new URL('./shutdown.ts', import.meta.url));
const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

function run(body: string): { proc: ChildProcess; out: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-shutdown-'));
  const file = join(dir, 'child.ts');
  writeFileSync(file, `import { exitOnSignals, startExitWatchdog } from ${JSON.stringify(SHUTDOWN)};\nimport { createLogger } from ${JSON.stringify(LOGGER)};\nconst logger = createLogger('info');\nvoid exitOnSignals; void startExitWatchdog; void logger;\n${body}\n`);
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, out: () => out, exited };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('exitOnSignals', () => {
  it('a close that resolves: exit 0', async () => {
    const c = run(`exitOnSignals(logger, async () => { await new Promise((r) => setTimeout(r, 50)); }, { graceMs: 5_000 });\nconsole.log('ready');\nsetInterval(() => {}, 1000);`);
    expect(await until(() => c.out().includes('ready'), 10_000)).toBe(true);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });

  it('a close that never resolves: exit 1 when the grace period ends', async () => {
    const c = run(`exitOnSignals(logger, () => new Promise(() => {}), { graceMs: 300 });\nconsole.log('ready');\nsetInterval(() => {}, 1000);`);
    expect(await until(() => c.out().includes('ready'), 10_000)).toBe(true);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: 1, signal: null });
    expect(c.out()).toContain('shutdown did not finish within its grace period');
  });

  it('a close that holds the main thread (the grace timer cannot run): the watchdog kills the process', async () => {
    // Atomics.wait blocks the thread the way a stuck native call does: no timer, no signal handler runs.
    const c = run(`exitOnSignals(logger, async () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }, { graceMs: 300, watchdogMs: 1_000 });\nconsole.log('ready');\nsetInterval(() => {}, 1000);`);
    expect(await until(() => c.out().includes('ready'), 10_000)).toBe(true);
    const t0 = performance.now();
    c.proc.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(performance.now() - t0).toBeGreaterThan(900);
    expect(performance.now() - t0).toBeLessThan(8_000);
    expect(await until(() => c.out().includes('process killed'), 2_000)).toBe(true);
  });

  it('a close that resolves and an exit that hangs (the embedded engine\'s exit handlers): killed after the exit fuse, not the grace', async () => {
    // An exit handler that never returns stands in for a native destructor deadlocked in exit().
    const c = run(`process.on('exit', () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });\nexitOnSignals(logger, async () => {}, { graceMs: 60_000, exitFuseMs: 500 });\nconsole.log('ready');\nsetInterval(() => {}, 1000);`);
    expect(await until(() => c.out().includes('ready'), 10_000)).toBe(true);
    const t0 = performance.now();
    c.proc.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(performance.now() - t0).toBeGreaterThan(400);
    expect(performance.now() - t0).toBeLessThan(8_000);
    expect(await until(() => c.out().includes('shutdown completed, but exiting took over 500 ms'), 2_000)).toBe(true);
  });

  it('the watchdog leaves with the process it watches: no stray process, no late signal', async () => {
    const c = run(`console.log('watchdog=' + startExitWatchdog(60_000, logger).pid);\nsetTimeout(() => process.exit(0), 200);`);
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const pid = Number(/watchdog=(\d+)/.exec(c.out())?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(await until(() => !alive(pid), 5_000)).toBe(true);
  });
});

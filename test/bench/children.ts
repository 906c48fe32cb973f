// Child processes of the benchmark: each target runs in its own process, pinned to a core
// with `taskset` when it exists, and every child is tracked so that a failure or a signal
// still kills all of them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { exited, killIfNotReady } from '../support/child-start.ts';

export interface Pinning {
  /** The CPU list (`taskset -c`) for the system under test, or null when unpinned. */
  target: string | null;
  /** The CPU list for the load generator and the mock upstream, or null when unpinned. */
  load: string | null;
  note: string;
}

/** Core 0 for the target, core 1 for load + upstream, when `taskset` works and there are 2+ cores. */
export function detectPinning(cpus: number): Pinning {
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    return { target: null, load: null, note: 'taskset not available: processes are not pinned, numbers are noisier' };
  }
  if (cpus < 2) return { target: null, load: null, note: `only ${cpus} CPU: processes are not pinned` };
  return { target: '0', load: '1', note: 'target pinned to core 0; load generator and mock upstream pinned to core 1' };
}

/** Pin this (load generator) process, all its threads, to a CPU list. */
export function pinSelf(cpus: string | null): void {
  if (cpus === null) return;
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The first capture group of the readiness pattern (e.g. the URL). */
  ready: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const proc of live) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  live.clear();
}

export interface SpawnOptions {
  name: string;
  cmd: string;
  args: string[];
  cpus: string | null;
  /** Matched against stdout+stderr; group 1 is returned as `ready`. */
  readyPattern: RegExp;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Run under SCHED_IDLE (`chrt --idle 0`, every thread): the process gets only CPU time nobody
   * else on its cores wants, and any other thread waking there preempts it at once.
   */
  idle?: boolean;
}

let chrtWorks: boolean | undefined;

/** Whether `chrt --idle` can start a process here (util-linux; a seccomp profile may forbid it). */
export function idleSchedulingWorks(): boolean {
  chrtWorks ??= (() => {
    const probe = spawnSync('chrt', ['--idle', '0', 'true'], { stdio: 'ignore' });
    return !probe.error && probe.status === 0;
  })();
  return chrtWorks;
}

export async function spawnChild(o: SpawnOptions): Promise<Child> {
  const [cmd0, args0] = o.idle && idleSchedulingWorks() ? ['chrt', ['--idle', '0', o.cmd, ...o.args]] : [o.cmd, o.args];
  const [cmd, args] = o.cpus === null ? [cmd0, args0] : ['taskset', ['-c', o.cpus, cmd0, ...args0]];
  const proc = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  // BENCH_CHILD_LOG_DIR=DIR keeps each child's whole output (e.g. with --trace-gc-nvp in
  // BENCH_GATELOG_NODE_FLAGS) in DIR/<name>.<pid>.log.
  const logDir = process.env['BENCH_CHILD_LOG_DIR'];
  if (logDir) {
    const file = createWriteStream(`${logDir}/${o.name.replace(/[^a-z0-9]+/gi, '-')}.${proc.pid ?? 0}.log`);
    proc.stdout.pipe(file);
    proc.stderr.pipe(file);
  }
  let out = '';
  let onData: ((d: Buffer) => void) | null = null;
  const ready = await killIfNotReady(proc, new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} did not become ready within ${o.timeoutMs} ms:\n${out.slice(-4000)}`)), o.timeoutMs);
    onData = (d: Buffer): void => {
      // Keep a bounded tail: a long run must not grow this string without limit.
      out = (out + d.toString()).slice(-64_000);
      const m = o.readyPattern.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve(m[1] ?? m[0]);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      clearTimeout(timer);
      reject(new Error(`${o.name} exited (${code ?? signal}) before it was ready:\n${out.slice(-4000)}`));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', onExit);
  }));
  // Only the readiness listener goes: a BENCH_CHILD_LOG_DIR pipe keeps reading.
  proc.stdout.off('data', onData!);
  proc.stderr.off('data', onData!);
  proc.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64_000)));
  proc.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64_000)));
  return {
    name: o.name,
    proc,
    ready,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 12_000);
      await exited(proc);
      clearTimeout(timer);
    },
  };
}

/** A free loopback port, for servers (Portkey) that cannot listen on port 0 themselves. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

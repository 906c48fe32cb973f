// A child process a test starts and waits on until it is ready. When that wait fails (a
// timeout, an early exit, a readiness error), the child is SIGKILLed and waited for before
// the error goes on: a child that hangs at startup must not outlive the test run.
import type { ChildProcess } from 'node:child_process';

/** Resolves once `proc` has exited (at once if it already has, or never started). */
export function exited(proc: ChildProcess): Promise<void> {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Send `signal` (SIGKILL unless told) to `proc` if it is still running, and wait for it to exit. */
export async function killChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const gone = exited(proc);
  if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
  await gone;
}

/** `ready`'s value; if it rejects, `proc` is killed (and gone) before its error is rethrown. */
export async function killIfNotReady<T>(proc: ChildProcess, ready: Promise<T>): Promise<T> {
  try {
    return await ready;
  } catch (err) {
    await killChild(proc);
    throw err;
  }
}

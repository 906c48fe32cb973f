// One way every gatelog process stops: SIGTERM/SIGINT run `close` once (finish what is in
// hand), exit 0 when it resolves, 1 when it fails or outlives `graceMs`.
//
// The grace timer runs on the event loop, and the loop is not always free to run it: a native
// call (the embedded engine closing a connection, a query on libuv's pool that process.exit
// waits for) can hold the main thread or the exit itself. So the signal also starts a watchdog
// in a process of its own, holding the read end of a pipe: it ends quietly when this process is
// gone (the pipe closes), and sends SIGKILL when this one is still alive `killAfterMs` later.
// A supervisor (systemd, Kubernetes, a test) sees the process end within a bound either way.
import { spawn } from 'node:child_process';
import type { Logger } from './logger.ts';

/** How long after the grace period the watchdog waits before SIGKILL. */
export const WATCHDOG_MARGIN_MS = 5_000;

const WATCHDOG = `
const [pid, ms] = process.argv.slice(1).map(Number);
setTimeout(() => {
  try {
    process.kill(pid, 'SIGKILL');
    process.stderr.write(JSON.stringify({ level: 50, time: Date.now(), pid, msg: 'shutdown did not end within ' + ms + ' ms: process killed' }) + '\\n');
  } catch {}
  process.exit(0);
}, ms);
process.stdin.on('data', () => {}).on('end', () => process.exit(0)).on('error', () => process.exit(0));
`;

/**
 * Start the watchdog for this process: SIGKILL after `killAfterMs` unless this process has
 * exited by then. Returns the watchdog's pid (undefined when it could not be started).
 */
export function startExitWatchdog(killAfterMs: number, logger?: Logger): number | undefined {
  try {
    // No inherited NODE_OPTIONS (a profiler flag, a loader): the watchdog is plain Node.
    const child = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), String(killAfterMs)], {
      stdio: ['pipe', 'ignore', 'inherit'],
      env: {},
    });
    child.on('error', (err) => logger?.warn({ err }, 'shutdown watchdog could not start'));
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return child.pid;
  } catch (err) {
    logger?.warn({ err }, 'shutdown watchdog could not start');
    return undefined;
  }
}

export function exitOnSignals(logger: Logger, close: () => Promise<void>, o: { graceMs: number; message?: string; watchdogMs?: number }): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, o.message ?? 'shutting down');
    startExitWatchdog(o.watchdogMs ?? o.graceMs + WATCHDOG_MARGIN_MS, logger);
    const force = setTimeout(() => {
      logger.error({ grace_ms: o.graceMs }, 'shutdown did not finish within its grace period');
      process.exit(1);
    }, o.graceMs);
    force.unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

// One way every gatelog process stops: SIGTERM/SIGINT run `close` once (finish what is in
// hand), exit 0 when it resolves, 1 when it fails or outlives `graceMs`.
//
// The grace timer runs on the event loop, and the loop is not always free to run it: a native
// call (the embedded engine closing a connection, a query on libuv's pool that process.exit
// waits for) can hold the main thread or the exit itself. So the signal also starts a watchdog
// in a process of its own, holding the read end of a pipe: it ends quietly when this process is
// gone (the pipe closes), and sends SIGKILL when this one is still alive `killAfterMs` later.
// A supervisor (systemd, Kubernetes, a test) sees the process end within a bound either way.
// Once `close` has resolved, everything is written and closed, and only exit() is left; the
// watchdog is then told so and gives the exit EXIT_FUSE_MS instead of the rest of the grace:
// the embedded engine's own exit handlers (chDB's static destructors) can deadlock when the
// process stops within a second or so of starting (about 1 in 5 such stops here), and the stop
// should not then take the whole grace period.
import { spawn } from 'node:child_process';
import type { Logger } from './logger.ts';

/** How long after the grace period the watchdog waits before SIGKILL. */
export const WATCHDOG_MARGIN_MS = 5_000;
/** How long exit() may take once `close` has resolved. */
export const EXIT_FUSE_MS = 2_000;

const WATCHDOG = `
const [pid, ms, fuse] = process.argv.slice(1).map(Number);
const kill = (msg) => {
  try {
    process.kill(pid, 'SIGKILL');
    process.stderr.write(JSON.stringify({ level: 50, time: Date.now(), pid, msg }) + '\\n');
  } catch {}
  process.exit(0);
};
let timer = setTimeout(() => kill('shutdown did not end within ' + ms + ' ms: process killed'), ms);
process.stdin.on('data', (d) => {
  if (!String(d).includes('closed')) return;
  clearTimeout(timer);
  timer = setTimeout(() => kill('shutdown completed, but exiting took over ' + fuse + ' ms: process killed'), fuse);
}).on('end', () => process.exit(0)).on('error', () => process.exit(0));
`;

export interface ExitWatchdog {
  pid: number | undefined;
  /** `close` has resolved: only exit() is left, and it gets EXIT_FUSE_MS. */
  closed(): void;
}

/**
 * Start the watchdog for this process: SIGKILL after `killAfterMs` unless this process has
 * exited by then (or EXIT_FUSE_MS after `closed()`). Its pid is undefined when it could not start.
 */
export function startExitWatchdog(killAfterMs: number, logger?: Logger, fuseMs = EXIT_FUSE_MS): ExitWatchdog {
  try {
    // No inherited NODE_OPTIONS (a profiler flag, a loader): the watchdog is plain Node.
    const child = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), String(killAfterMs), String(fuseMs)], {
      stdio: ['pipe', 'ignore', 'inherit'],
      env: {},
    });
    child.on('error', (err) => logger?.warn({ err }, 'shutdown watchdog could not start'));
    child.stdin?.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return {
      pid: child.pid,
      closed() {
        child.stdin?.write('closed\n');
      },
    };
  } catch (err) {
    logger?.warn({ err }, 'shutdown watchdog could not start');
    return { pid: undefined, closed() {} };
  }
}

export function exitOnSignals(logger: Logger, close: () => Promise<void>, o: { graceMs: number; message?: string; watchdogMs?: number; exitFuseMs?: number }): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, o.message ?? 'shutting down');
    const watchdog = startExitWatchdog(o.watchdogMs ?? o.graceMs + WATCHDOG_MARGIN_MS, logger, o.exitFuseMs);
    const force = setTimeout(() => {
      logger.error({ grace_ms: o.graceMs }, 'shutdown did not finish within its grace period');
      process.exit(1);
    }, o.graceMs);
    force.unref();
    close().then(
      () => {
        watchdog.closed();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

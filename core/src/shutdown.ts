// One way every gatelog process stops: SIGTERM/SIGINT run `close` once (finish what is in
// hand), exit 0 when it resolves, 1 when it fails or outlives `graceMs`.
import type { Logger } from './logger.ts';

export function exitOnSignals(logger: Logger, close: () => Promise<void>, o: { graceMs: number; message?: string }): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, o.message ?? 'shutting down');
    const force = setTimeout(() => process.exit(1), o.graceMs);
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

// A background job that one proxy of a deployment runs at a time (the batch poller, the upstream
// file purge): every `intervalMs` (±20% jitter, so proxies started together do not run together)
// the job's lease is claimed (job-lease.ts: the earliest live claimant runs it; the lease outlives
// a few intervals, so one that stops is replaced within three), and the holder runs the job.
// A failing run is logged with its code, never thrown; the next interval tries again.
import { randomUUID } from 'node:crypto';
import type { Logger, Store } from '@gatelog/core';
import { claimJob } from '@gatelog/core/store/job-lease';

const JITTER = 0.2;

/** This process as a lease holder (job leases, batch recording). */
export const newHolder = (): string => `proxy-${randomUUID()}`;

export interface LeasedJob {
  store: Store;
  /** The lease's name (`batch-poll`, `batch-purge`). */
  job: string;
  holder: string;
  intervalMs: number;
  logger: Logger;
  /** The code a failed run is logged with. */
  code: string;
  random?: () => number;
}

/** One run if this process holds the job's lease: true when it did. */
export async function runLeased(o: Pick<LeasedJob, 'store' | 'job' | 'holder' | 'intervalMs'>, run: () => Promise<unknown>): Promise<boolean> {
  if (!(await claimJob(o.store, o.job, o.holder, Math.max(3 * o.intervalMs, 5000)))) return false;
  await run();
  return true;
}

/** Starts the loop; returns stop(). */
export function startLeasedLoop(o: LeasedJob, run: () => Promise<unknown>): () => void {
  const random = o.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = (): void => {
    if (stopped) return;
    timer = setTimeout(tick, o.intervalMs * (1 - JITTER + 2 * JITTER * random()));
    timer.unref();
  };
  const tick = (): void => {
    runLeased(o, run)
      .catch((err: unknown) => o.logger.warn({ err, code: o.code }, `${o.job} failed; trying again at the next interval`))
      .finally(next);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// Batches in flight asked about upstream in the background, so a batch's results are recorded
// even when no client retrieves it: every `batches.poll_ms` (±20% jitter, so proxies started
// together do not poll together), by one proxy of a deployment at a time (the `batch-poll` job
// lease, job-lease.ts: the earliest live claimant polls; another takes over if it stops).
import { randomUUID } from 'node:crypto';
import type { Logger } from '@gatelog/core';
import { claimJob } from '@gatelog/core/store/job-lease';
import { batchesToPoll } from '@gatelog/core/store/batch-objects';
import { batchSeen } from './batch-routes.ts';
import { objectOf, type BatchRouteDeps } from './access.ts';
import { OBJECT_MAX_BYTES } from './files-routes.ts';

/** Batches asked about per poll (the oldest first). */
const POLL_BATCHES = 200;
const JITTER = 0.2;

/** This process as a lease holder (job leases, batch recording). */
export const newHolder = (): string => `proxy-${randomUUID()}`;

export interface BatchPollerOptions {
  intervalMs: number;
  holder: string;
  logger: Logger;
  random?: () => number;
}

/** One poll: true when this process held the lease and asked. */
export async function pollBatches(deps: BatchRouteDeps, o: BatchPollerOptions): Promise<boolean> {
  // The lease outlives a few polls, so one that stops is replaced within three intervals.
  if (!(await claimJob(deps.store, 'batch-poll', o.holder, Math.max(3 * o.intervalMs, 5000)))) return false;
  for (const row of await batchesToPoll(deps.store, POLL_BATCHES)) {
    const files = deps.providers.get(row.provider)?.files;
    if (!files) continue;
    try {
      const obj = objectOf(await files.send({ method: 'GET', path: `/batches/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES));
      if (obj) await batchSeen(deps, row, obj, o.logger);
    } catch (err) {
      o.logger.warn({ err, batch_id: row.id, code: 'GATELOG_ERR_BATCH_POLL' }, 'could not ask about a batch in flight');
    }
  }
  return true;
}

/** Starts polling; returns stop(). */
export function startBatchPoller(deps: BatchRouteDeps, o: BatchPollerOptions): () => void {
  const random = o.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = (): void => {
    if (stopped) return;
    timer = setTimeout(tick, o.intervalMs * (1 - JITTER + 2 * JITTER * random()));
    timer.unref();
  };
  const tick = (): void => {
    pollBatches(deps, o)
      .catch((err: unknown) => o.logger.warn({ err, code: 'GATELOG_ERR_BATCH_POLL' }, 'batch poll failed'))
      .finally(next);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

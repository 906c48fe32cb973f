// Batches in flight asked about upstream in the background, so a batch's results are recorded
// even when no client retrieves it: every `batches.poll_ms`, by one proxy of a deployment at a
// time (the `batch-poll` job lease, leased-loop.ts).
import type { Logger } from '@gatelog/core';
import { batchesToPoll } from '@gatelog/core/store/batch-objects';
import { batchSeen } from './batch-routes.ts';
import { objectOf, type BatchRouteDeps } from './access.ts';
import { OBJECT_MAX_BYTES } from './files-routes.ts';
import { runLeased, startLeasedLoop } from './leased-loop.ts';

export { newHolder } from './leased-loop.ts';

/** Batches asked about per poll (the oldest first). */
const POLL_BATCHES = 200;

export interface BatchPollerOptions {
  intervalMs: number;
  holder: string;
  logger: Logger;
  random?: () => number;
}

/** Asks about the batches in flight (this process holds the lease). */
async function askInFlight(deps: BatchRouteDeps, logger: Logger): Promise<void> {
  for (const row of await batchesToPoll(deps.store, POLL_BATCHES)) {
    const files = deps.providers.get(row.provider)?.files;
    if (!files) continue;
    try {
      const obj = objectOf(await files.send({ method: 'GET', path: `/batches/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES));
      if (obj) await batchSeen(deps, row, obj, logger);
    } catch (err) {
      logger.warn({ err, batch_id: row.id, code: 'GATELOG_ERR_BATCH_POLL' }, 'could not ask about a batch in flight');
    }
  }
}

/** One poll: true when this process held the lease and asked. */
export function pollBatches(deps: BatchRouteDeps, o: BatchPollerOptions): Promise<boolean> {
  return runLeased({ store: deps.store, job: 'batch-poll', holder: o.holder, intervalMs: o.intervalMs }, () => askInFlight(deps, o.logger));
}

/** Starts polling; returns stop(). */
export function startBatchPoller(deps: BatchRouteDeps, o: BatchPollerOptions): () => void {
  return startLeasedLoop({ store: deps.store, job: 'batch-poll', code: 'GATELOG_ERR_BATCH_POLL', ...o }, () => askInFlight(deps, o.logger));
}

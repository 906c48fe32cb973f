// OpenAI's Files and Batches APIs through gatelog, served under /v1 and at the bare origin like
// the other OpenAI routes, with the background poller of batches in flight and the sweep that
// deletes files at their provider once retention or an erasure says so (purge.ts).
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@gatelog/core';
import type { EventEnv } from '../capture/call-record.ts';
import type { LlmCallEvent } from '@gatelog/core';
import { filesRoutes } from './files-routes.ts';
import { batchRoutes } from './batch-routes.ts';
import { createBatchRecorder } from './record.ts';
import { newHolder, startBatchPoller } from './poller.ts';
import { startLeasedLoop } from './leased-loop.ts';
import type { UpstreamPurge } from './purge.ts';
import type { BatchRouteDeps } from './access.ts';

/** The paths served at the bare origin too, with everything under them. */
const BATCH_ROOT_PREFIXES: readonly string[] = ['/files', '/batches'];

/** True for a bare-origin URL of these routes (`/files`, `/batches/{id}?…`): the embedded launcher gives them to the proxy, not the UI. */
export function isBatchRootPath(url: string): boolean {
  return BATCH_ROOT_PREFIXES.some((p) => url.startsWith(p) && (url.length === p.length || url[p.length] === '/' || url[p.length] === '?'));
}

export interface BatchesDeps extends Omit<BatchRouteDeps, 'recorder'> {
  env: EventEnv & { publish: (e: LlmCallEvent) => void };
  logger: Logger;
  pollMs: number;
  /** Deletes files at their provider; swept every `purgeMs` by one proxy at a time when enabled. */
  purge: UpstreamPurge;
  purgeMs: number;
}

export async function registerBatches(app: FastifyInstance, d: BatchesDeps): Promise<void> {
  const holder = newHolder();
  const deps: BatchRouteDeps = { ...d, privacy: d.env.privacy, recorder: createBatchRecorder({ store: d.store, providers: d.providers, env: d.env, logger: d.logger, holder }) };
  for (const prefix of ['/v1', '']) {
    await app.register(filesRoutes(deps), { prefix });
    await app.register(batchRoutes(deps, d.logger), { prefix });
  }
  const stop = startBatchPoller(deps, { intervalMs: d.pollMs, holder, logger: d.logger });
  app.addHook('onClose', async () => stop());
  if (d.purge.enabled) {
    const stopPurge = startLeasedLoop({ store: d.store, job: 'batch-purge', holder, intervalMs: d.purgeMs, logger: d.logger, code: 'GATELOG_ERR_FILE_PURGE' }, () => d.purge.sweep());
    app.addHook('onClose', async () => stopPurge());
  }
}

// Erasures asked through another proxy reach this one's response cache: every
// `keys.refresh_ms` the erasure requests recorded since the last look (erasure_requests, written
// by eraseCalls) are read, and the cached answers of the calls each one selects — calls that
// started before it — are dropped. The proxy that serves an erasure drops its own at once
// (routes/erase.ts); this is for the others, within one refresh. A request recorded before this
// proxy started selects nothing here: every answer it caches is from a call made since.
import { ERASURE_REREAD_MS, listErasures, type Logger, type Store } from '@gatelog/core';
import type { ResponseCache } from './response-cache.ts';

export interface ErasureWatch {
  /** One look now (tests; the timer calls it too). */
  tick(): Promise<number>;
  stop(): void;
}

export function startErasureWatch(o: { store: Store; cache: ResponseCache; intervalMs: number; logger: Logger; now?: () => number }): ErasureWatch {
  const seen = new Set<string>();
  /** The cache's clock (the governance one); requests are read by wall time, as they were recorded. */
  const now = o.now ?? Date.now;
  let since = Date.now() - ERASURE_REREAD_MS;
  const tick = async (): Promise<number> => {
    // Nothing cached, nothing to drop (the usual case: caching is off unless asked for). A request
    // recorded meanwhile is read at the first look with something cached, while in the window.
    if (o.cache.stats().entries === 0) return 0;
    const { erasures } = await listErasures(o.store, since);
    let dropped = 0;
    for (const e of erasures) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      since = Math.max(since, e.at - ERASURE_REREAD_MS);
      dropped += o.cache.forget(e, now());
    }
    if (dropped > 0) o.logger.info({ dropped }, 'response cache: dropped the answers of calls erased through another proxy');
    return dropped;
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    timer = setTimeout(() => {
      tick()
        .catch((err: unknown) => o.logger.warn({ err: { code: (err as { code?: unknown }).code, message: err instanceof Error ? err.message : String(err) } }, 'response cache: could not read erasure requests; retrying'))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, o.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

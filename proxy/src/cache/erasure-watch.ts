// Erasures asked through another proxy reach this one: every `keys.refresh_ms` the erasure
// requests recorded since the last look (erasure_requests, written by eraseCalls) are read, and
// for each new one the cached answers of the calls it selects — calls that started before it —
// are dropped, and the copies of those calls under this process's data dir (the spool, and the
// event log and dead letters where there are any) lose their bodies, except held calls'. The
// proxy that serves an erasure does both at once (routes/erase.ts); this is for the others,
// within one refresh. Until then, ingest stores whatever they send to Kafka erased.
//
// Cost: one small read per look (the requests of the last hour, by the table's sort key); the
// holds and the files only when a request is new. Without a data dir and with nothing cached
// there is nothing to do, and nothing is read. Every proxy of a fleet scrubs its files for each
// erasure asked anywhere, so one look scrubs for all its new requests in one pass, a few ms of
// work at a time between the calls it serves (erasure-files.ts), and looks run one at a time.
// The spool's relay thread reads the same segments, which erasure-files.ts allows for (a record
// caught mid-rewrite is never sent with its bodies). A request recorded more than an hour
// before this proxy started is not read: no answer cached since can predate it, and the calls
// it covers that are still in this spool (the proxy was down when it was asked) keep their
// bodies there until the body period's sweep, while ingest stores them erased.
import { ERASURE_REREAD_MS, erasureRule, errorFields, activeCallHolds, exportErasure, listErasures, scrubDataDir, type Logger, type RecordedErasure, type ScheduledExportConfig, type Store } from '@gatelog/core';
import { scrubExports } from '@gatelog/core/store/export-erasure';
import type { ResponseCache } from './response-cache.ts';

export interface ErasureWatch {
  /** One look now (tests; the timer calls it too); returns the cached answers dropped. */
  tick(): Promise<number>;
  stop(): void;
}

export interface ErasureWatchOptions {
  store: Store;
  cache: ResponseCache;
  /** This process's data dir (its spool, or event log and dead letters), scrubbed of erased calls. */
  dataDir?: string | undefined;
  /** This process's scheduled exports, whose files are rewritten as erasures leave them (export-erasure.ts). */
  exports?: readonly ScheduledExportConfig[] | undefined;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

export function startErasureWatch(o: ErasureWatchOptions): ErasureWatch {
  /** Requests whose files are scrubbed, and those whose cached answers are dropped. */
  const seen = new Set<string>();
  const forgotten = new Set<string>();
  /** The cache's clock (the governance one); requests are read by wall time, as they were recorded. */
  const now = o.now ?? Date.now;
  let since = Date.now() - ERASURE_REREAD_MS;

  /** The copies under the data dir of the calls `fresh` covers lose their bodies, held calls' excepted. */
  const scrubFiles = async (fresh: readonly RecordedErasure[]): Promise<void> => {
    const holds = await activeCallHolds(o.store);
    if (o.dataDir !== undefined) {
      const { records, files } = await scrubDataDir(o.dataDir, fresh.map((e) => erasureRule(e, holds)));
      if (records > 0) o.logger.info({ records, files }, 'erasure: scrubbed the copies under the data dir of calls erased through another proxy');
    }
    if (o.exports?.length) {
      const x = await scrubExports(o.store, o.exports, fresh.map((e) => exportErasure(e, holds)));
      if (x.files > 0) o.logger.info({ ...x }, 'erasure: rewrote the scheduled export files holding calls erased through another proxy');
    }
  };

  const look = async (): Promise<number> => {
    // Nothing cached and no files, nothing to do (the usual case for the cache: caching is off
    // unless asked for). A request recorded meanwhile is read at the first look with something
    // cached, while in the window.
    if (o.cache.stats().entries === 0 && o.dataDir === undefined && !o.exports?.length) return 0;
    const { erasures } = await listErasures(o.store, since);
    const fresh = erasures.filter((e) => !seen.has(e.id));
    if (fresh.length === 0) return 0;
    // The cache first, once per request: answers are served while the files are scrubbed, and
    // from then on the cache refuses those of calls that were running.
    let dropped = 0;
    for (const e of fresh) {
      if (forgotten.has(e.id)) continue;
      forgotten.add(e.id);
      dropped += o.cache.forget(e, now());
    }
    if (dropped > 0) o.logger.info({ dropped }, 'response cache: dropped the answers of calls erased through another proxy');
    // A failure here (holds unreadable) leaves every request's files to the next look.
    if (o.dataDir !== undefined || o.exports?.length) await scrubFiles(fresh);
    for (const e of fresh) {
      seen.add(e.id);
      since = Math.max(since, e.at - ERASURE_REREAD_MS);
    }
    return dropped;
  };
  // One look at a time: a look asked for while one runs (the timer's, a test's) starts after it,
  // so it reads what was recorded meanwhile and never scrubs for the same requests alongside it.
  let looking: Promise<unknown> = Promise.resolve();
  const tick = (): Promise<number> => {
    const next = looking.then(look);
    looking = next.catch(() => undefined);
    return next;
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    timer = setTimeout(() => {
      tick()
        .catch((err: unknown) => o.logger.warn({ err: errorFields(err) }, 'erasure watch: could not read erasure requests or legal holds; retrying'))
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

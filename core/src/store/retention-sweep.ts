// The retention sweep every launcher runs that owns a store or a data dir: at start, apply the
// configured TTLs where they changed; then on every tick, mark held calls and empty the bodies
// older than the body period in the copies under the data dir (event log, spool, dead
// letters) — the same clock as the TTLs in ClickHouse. Failures are logged, never thrown.
import type { Logger } from '../logger.ts';
import type { Store } from './client.ts';
import { scrubDataDir, type ScrubResult } from './erasure-files.ts';
import { applyRetention, durationMs, isHeld, listHolds, markHolds, type LegalHold, type RetentionConfig } from './retention.ts';

export interface RetentionSweep {
  /** One sweep now (tests, and after a hold changes). */
  run(): Promise<ScrubResult>;
  stop(): void;
}

/** Empty the bodies of events older than `cutoffMs` under a data dir, except held ones. */
export function pruneDataDir(dataDir: string, cutoffMs: number, holds: readonly LegalHold[]): ScrubResult {
  return scrubDataDir(dataDir, { match: (e) => Date.parse(String(e['started_at'])) < cutoffMs && !isHeld(e, holds) });
}

export async function startRetention(o: { store?: Store | undefined; retention: RetentionConfig; dataDir?: string | undefined; logger: Logger; now?: () => number }): Promise<RetentionSweep> {
  const now = o.now ?? Date.now;
  if (o.store) {
    const changed = await applyRetention(o.store, o.retention);
    if (changed.length) o.logger.info({ changed, retention: { bodies: o.retention.bodies, calls: o.retention.calls, rollups: o.retention.rollups } }, 'retention TTLs applied');
  }
  const bodiesMs = durationMs(o.retention.bodies);
  const run = async (): Promise<ScrubResult> => {
    let holds: LegalHold[] = [];
    if (o.store) {
      await markHolds(o.store);
      holds = await listHolds(o.store, { activeOnly: true });
    }
    if (!o.dataDir || bodiesMs === null) return { records: 0, bytes: 0, files: 0 };
    const r = pruneDataDir(o.dataDir, now() - bodiesMs, holds);
    if (r.records) o.logger.info({ records: r.records, files: r.files }, 'retention: emptied expired bodies under the data dir');
    return r;
  };
  const tick = (): void => {
    run().catch((err: unknown) => o.logger.warn({ err }, 'retention sweep failed; retrying at the next tick'));
  };
  tick();
  const timer = setInterval(tick, o.retention.sweep_ms);
  timer.unref();
  return { run, stop: () => clearInterval(timer) };
}

// The retention sweep every launcher runs that owns a store or a data dir: at start, apply the
// configured TTLs where they changed; then on every tick, mark held calls and empty the bodies
// older than their team's body period in the copies under the data dir (event log, spool, dead
// letters) — the same clock as the TTLs in ClickHouse — and remove feedback whose call is gone
// or was erased (feedback-removal.ts). Failures are logged, never thrown.
//
// Where it runs: every launcher that owns the store (the embedded one; each ingest worker in
// distributed mode, never a proxy). Each step is idempotent, so workers sweeping at once repeat
// each other's reads but remove nothing twice; the erased-feedback step reads only what was
// written or erased since this process's last run.
//
// Legal holds outrank retention. A proxy reads the active holds (`holdsStore`) but leaves TTLs
// and hold marks to ingest. When the holds cannot be read (no store, or it is down), only what
// the spool's relay has already handed to Kafka is emptied: ingest stores it marked held, so no
// held body is lost; a spooled event still waiting for Kafka keeps its bodies until the holds
// can be read again.
import { errorFields, type Logger } from '../logger.ts';
import type { Store } from './client.ts';
import { OffsetFile } from '../bus/offset-file.ts';
import { relayOffsetPath, spoolDirOf, spoolLogDir } from '../bus/spool-layout.ts';
import { scrubDataDir, scrubLogDir, type ScrubResult } from './erasure-files.ts';
import { pruneErasedFeedback, pruneFeedback } from './feedback-removal.ts';
import { ERASURE_REREAD_MS } from './erasure.ts';
import { expireAuditLeased, newExpiryHolder } from './audit-expiry.ts';
import { activeCallHolds, applyRetention, durationMs, eventTeam, isHeld, markHolds, periodFor, wholeBodyTeams, type CallHold, type RetentionConfig } from './retention.ts';

/** How often the erased-feedback step checks all feedback, not only what changed since its last run. */
const FULL_CHECK_MS = 86_400_000;

export interface RetentionSweep {
  /** One sweep now (tests, and after a hold changes). */
  run(): Promise<ScrubResult>;
  stop(): void;
}

export interface RetentionOptions {
  /** The store whose TTLs and hold marks this process keeps (the embedded launcher, ingest). */
  store?: Store | undefined;
  /** A store read only for the active legal holds, its TTLs and marks kept by another service (a proxy's). */
  holdsStore?: Store | undefined;
  retention: RetentionConfig;
  /** Names of the configured audit sinks (`audit.sinks`): audit rows expire only once each has them. */
  auditSinks?: readonly string[] | undefined;
  dataDir?: string | undefined;
  logger: Logger;
  now?: () => number;
}

/**
 * Empty the bodies of events that started before their team's cutoff (`cutoffOf`, epoch ms;
 * -Infinity keeps them) under a data dir, except held ones. With `holds` unknown (null), only
 * the spool's records already in Kafka.
 */
export function pruneDataDir(dataDir: string, cutoffOf: (team: string) => number, holds: readonly CallHold[] | null): Promise<ScrubResult> {
  const expired = (e: Record<string, unknown>): boolean => Date.parse(String(e['started_at'])) < cutoffOf(eventTeam(e));
  if (holds) return scrubDataDir(dataDir, [{ match: (e) => expired(e) && !isHeld(e, holds) }]);
  const spool = spoolDirOf(dataDir);
  return scrubLogDir(spoolLogDir(spool), [{ match: expired }], { below: new OffsetFile(relayOffsetPath(spool)).load() });
}

export async function startRetention(o: RetentionOptions): Promise<RetentionSweep> {
  const now = o.now ?? Date.now;
  if (o.store) {
    const changed = await applyRetention(o.store, o.retention);
    if (changed.length) o.logger.info({ changed, retention: { bodies: o.retention.bodies, calls: o.retention.calls, rollups: o.retention.rollups, teams: o.retention.teams } }, 'retention TTLs applied');
  }
  // Each team's body period (retention.teams), the global one for the others; forever = never.
  const bodiesMs = (team: string): number | null => durationMs(periodFor(o.retention, 'bodies', team));
  const expires = bodiesMs('') !== null || wholeBodyTeams(o.retention).some((team) => bodiesMs(team) !== null);
  const cutoffs = (t: number) => (team: string): number => {
    const ms = bodiesMs(team);
    return ms === null ? -Infinity : t - ms;
  };
  const activeHolds = async (): Promise<CallHold[] | null> => {
    if (o.store) return activeCallHolds(o.store);
    if (!o.holdsStore) return null;
    try {
      return await activeCallHolds(o.holdsStore);
    } catch (err) {
      o.logger.warn({ err: errorFields(err) }, 'retention: could not read legal holds; emptying only spooled events already in Kafka');
      return null;
    }
  };
  // When the last run that completed the erased-feedback step started, less the margin other
  // hosts' clocks may lag by (their feedback and erasure times); null before the first. Once a
  // day the step checks everything again: what no run since saw change (a hold lifted from an
  // erased call, a clock off by more than the margin) waits a day at most.
  const expiryHolder = newExpiryHolder();
  let expiring: Promise<unknown> | undefined;
  let erasedSince: number | null = null;
  let erasedFullAt = -Infinity;
  const run = async (): Promise<ScrubResult> => {
    if (o.store) {
      const started = now();
      await markHolds(o.store);
      // Feedback lives no longer than its call (expired by its team's period, erased).
      const pruned = await pruneFeedback(o.store, started);
      if (pruned) o.logger.info({ rows: pruned }, 'retention: removed feedback whose calls are gone');
      // Nor does it outlive its call's erasure when it arrives afterwards (after markHolds: a
      // held call keeps its feedback).
      const full = started - erasedFullAt >= FULL_CHECK_MS;
      const erased = await pruneErasedFeedback(o.store, full ? null : erasedSince);
      erasedSince = started - ERASURE_REREAD_MS;
      if (full) erasedFullAt = started;
      if (erased) o.logger.info({ rows: erased }, 'retention: removed feedback on erased calls');
      // The audit trail's own period (one process at a time on a shared store; one run at a
      // time here, as run() may be called while a tick's run is under way). Its failure (an
      // altered anchor, the store away) is logged and leaves the rest of the sweep to run.
      expiring ??= expireAuditLeased(o.store, expiryHolder, o.retention.sweep_ms, { period: o.retention.audit, sinks: o.auditSinks, now: now(), logger: o.logger })
        .catch((err: unknown) => o.logger.error({ err: errorFields(err), code: 'GATELOG_ERR_AUDIT_EXPIRY' }, 'audit retention: nothing expired this sweep'))
        .finally(() => {
          expiring = undefined;
        });
      await expiring;
    }
    if (!o.dataDir || !expires) return { records: 0, bytes: 0, files: 0 };
    const r = await pruneDataDir(o.dataDir, cutoffs(now()), await activeHolds());
    if (r.records) o.logger.info({ records: r.records, files: r.files }, 'retention: emptied expired bodies under the data dir');
    return r;
  };
  // A tick while the last sweep still scrubs (a large spool, a short sweep_ms) is skipped: the
  // next one covers what it would have, and sweeps do not pile up behind each other.
  let sweeping = false;
  const tick = (): void => {
    if (sweeping) return;
    sweeping = true;
    void run()
      .catch((err: unknown) => o.logger.warn({ err }, 'retention sweep failed; retrying at the next tick'))
      .finally(() => {
        sweeping = false;
      });
  };
  tick();
  const timer = setInterval(tick, o.retention.sweep_ms);
  timer.unref();
  return { run, stop: () => clearInterval(timer) };
}

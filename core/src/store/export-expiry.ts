// Scheduled export files kept only as long as what they hold may be kept. A scheduled export
// (scheduled-exports.ts) holds calls with their exact bodies, so by default a file lives as long
// as the bodies of the calls it can hold: `retention.bodies`, or the shortest of the teams'
// own periods among the teams its filter admits. `exports[].keep` sets it (`forever` keeps every
// file). A file is removed, with its manifest, once its period's end is older than that, and the
// removal is audited (`export.expire`). While a legal hold that may cover the file's calls is in
// force, no file of the schedule is removed: a hold suspends retention here as it does in
// ClickHouse. Only names this schedule writes are looked at; anything else in `dir` is left alone.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ScheduledExportConfig } from '../config.ts';
import type { Store } from './client.ts';
import { appendAudit } from './audit.ts';
import { activeCallHolds, durationMs, periodFor, shorterPeriod, type CallHold, type RetentionConfig } from './retention.ts';

export const EXPORT_EXPIRE_ACTION = 'export.expire';

export const PERIOD_MS = { hourly: 3_600_000, daily: 86_400_000, weekly: 7 * 86_400_000 } as const;

/** The teams a schedule's filter admits (`team=a&team=b`); empty = every team. */
export function filterTeams(s: Pick<ScheduledExportConfig, 'filter'>): string[] {
  return new URLSearchParams(s.filter).getAll('team').flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
}

/** How long this schedule's files are kept: its `keep`, else the shortest body retention of the calls it can hold. */
export function exportKeep(s: Pick<ScheduledExportConfig, 'filter' | 'keep'>, r: Pick<RetentionConfig, 'bodies' | 'calls' | 'teams'>): string {
  if (s.keep !== undefined) return s.keep;
  const teams = filterTeams(s);
  const periods = teams.length > 0 ? teams.map((t) => periodFor(r, 'bodies', t)) : [r.bodies, ...Object.keys(r.teams).map((t) => periodFor(r, 'bodies', t))];
  return periods.reduce(shorterPeriod);
}

/** Whether `h` may cover calls this schedule's files hold (a hold limited to other teams does not). */
export function holdCovers(h: Pick<CallHold, 'kind' | 'value' | 'teams'>, teams: readonly string[]): boolean {
  if (teams.length === 0) return true;
  if (h.kind === 'team') return teams.includes(h.value);
  return !h.teams || h.teams.length === 0 || h.teams.some((t) => teams.includes(t));
}

/** The period start of a file this schedule wrote (scheduled-exports.ts fileName), or null for any other name. */
function periodStart(s: Pick<ScheduledExportConfig, 'every' | 'format'>, name: string): number | null {
  const m = /^gatelog-(hourly|daily|weekly)-(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})(\d{2})Z\.(csv|jsonl)$/.exec(name);
  if (!m || m[1] !== s.every || m[6] !== s.format) return null;
  const t = Date.parse(`${m[2]}T${m[3]}:${m[4]}:${m[5]}Z`);
  return Number.isNaN(t) ? null : t;
}

/** The files this schedule wrote that are in its dir now, with their periods' starts (none when the dir is missing). */
export function scheduleFiles(s: Pick<ScheduledExportConfig, 'dir' | 'every' | 'format'>): { name: string; start: number }[] {
  let names: string[];
  try {
    names = readdirSync(s.dir);
  } catch {
    return []; // Nothing written yet.
  }
  return names.flatMap((name) => {
    const start = periodStart(s, name);
    return start === null ? [] : [{ name, start }];
  }).sort((a, b) => a.start - b.start);
}

/** A rewrite or an export a crash left half-written (export-erasure.ts, scheduled-exports.ts): it may hold bodies. */
const LEFTOVER = /^gatelog-(hourly|daily|weekly)-.*\.(csv|jsonl)\.(partial|erasing-[0-9]+-[0-9a-f]{8})$/;
const LEFTOVER_AGE_MS = 3_600_000;

/** Removes this schedule's dir's leftovers older than an hour (a live export or rewrite is younger). */
function removeLeftovers(dir: string, now: number): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => LEFTOVER.test(n));
  } catch {
    return;
  }
  for (const n of names) {
    try {
      if (statSync(join(dir, n)).mtimeMs + LEFTOVER_AGE_MS < now) rmSync(join(dir, n), { force: true });
    } catch {
      // Gone meanwhile.
    }
  }
}

export interface ExpiryResult {
  /** Files removed (their manifests with them). */
  removed: string[];
  /** Files past their time kept because a legal hold may cover them. */
  held: number;
}

/** Removes this schedule's files whose period ended more than its keep before `now`. */
export async function expireExports(store: Store, s: ScheduledExportConfig, r: RetentionConfig, now: number): Promise<ExpiryResult> {
  removeLeftovers(s.dir, Date.now()); // files' times are the wall clock's, whatever `now` says
  const keep = exportKeep(s, r);
  const keepMs = durationMs(keep);
  const out: ExpiryResult = { removed: [], held: 0 };
  if (keepMs === null) return out;
  const due = scheduleFiles(s).filter((f) => f.start + PERIOD_MS[s.every] + keepMs <= now);
  if (due.length === 0) return out;
  const teams = filterTeams(s);
  if ((await activeCallHolds(store)).some((h) => holdCovers(h, teams))) {
    out.held = due.length;
    return out;
  }
  for (const { name, start } of due) {
    const file = join(s.dir, name);
    try {
      rmSync(file); // not `force`: another proxy sharing the dir may have removed it (and audited it) first
    } catch {
      continue;
    }
    rmSync(`${file}.manifest.json`, { force: true });
    out.removed.push(file);
    await appendAudit(store, {
      action: EXPORT_EXPIRE_ACTION, actor: 'scheduler', role: 'system', targetType: 'export', target: name,
      details: { file, every: s.every, format: s.format, filter: s.filter, keep, period_start: new Date(start).toISOString(), period_end: new Date(start + PERIOD_MS[s.every]).toISOString() },
    });
  }
  return out;
}

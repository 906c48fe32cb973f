// Scheduled compliance exports (`exports: [{ every: daily, format: jsonl, dir: … }]`): once a
// period has ended, its calls (`from` = period start, `to` = period end, plus the configured
// filter) are written to `dir/gatelog-<every>-<start>.<format>` with a manifest beside it, and
// the export is audited like any other (`export.run`, via `scheduled`, actor `scheduler`).
//
// Only the last ended period is due: a gatelog that was down for three days writes the latest
// day when it comes back, not the missed ones (`gatelog export --from --to` fills gaps). A file
// already present is done. Several instances (distributed mode, every proxy runs the
// schedules): a period the audit trail shows completed is skipped, and one not done yet is
// exported by one instance only, the holder of its job lease (job-lease.ts); if that instance
// dies mid-export, another takes the period over once its lease has gone quiet.
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ScheduledExportConfig } from '../config.ts';
import type { Store } from './client.ts';
import { listAudit } from './audit-queries.ts';
import { appendAudit, type AuditRow } from './audit.ts';
import { explorerQuery, parseExplorer, toFilter } from './explorer-params.ts';
import { EXPORT_ACTION, digestedExport, type ExportManifest } from './export-manifest.ts';
import { exportErasure, listErasures } from './erasure.ts';
import { scrubExportFile } from './export-erasure.ts';
import { expireExports, PERIOD_MS } from './export-expiry.ts';
import { claimJob, holdJob } from './job-lease.ts';
import { activeCallHolds, type RetentionConfig } from './retention.ts';

/** 1970-01-01 was a Thursday; weeks start on Monday (ISO 8601). */
const WEEK_OFFSET_MS = 4 * 86_400_000;

/** The last period of `every` that has ended at `now`: [start, end). */
export function lastEndedPeriod(every: ScheduledExportConfig['every'], now: number): { start: number; end: number } {
  const len = PERIOD_MS[every];
  const offset = every === 'weekly' ? WEEK_OFFSET_MS : 0;
  const end = Math.floor((now - offset) / len) * len + offset;
  return { start: end - len, end };
}

export const scheduleKey = (s: ScheduledExportConfig, start: number): string =>
  `${s.every}:${s.format}:${s.filter}:${new Date(start).toISOString()}`;

function fileName(s: ScheduledExportConfig, start: number): string {
  return `gatelog-${s.every}-${new Date(start).toISOString().replaceAll(':', '').replace('.000Z', 'Z')}.${s.format}`;
}

async function doneElsewhere(store: Store, key: string, since: number): Promise<boolean> {
  const rows = await listAudit(store, { action: EXPORT_ACTION, from: new Date(since).toISOString(), limit: 1000 });
  return rows.some((r) => {
    const d = JSON.parse(r.details) as { schedule?: string; completed?: boolean };
    return d.schedule === key && d.completed === true;
  });
}

/** This process, as a job lease holder. */
const THIS_INSTANCE = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/**
 * Runs one schedule's due period if it is not done yet and this instance holds its lease;
 * resolves to the file written, or null.
 */
export async function runScheduledExport(store: Store, s: ScheduledExportConfig, now: number, lease: { holder?: string; liveMs?: number } = {}): Promise<string | null> {
  const holder = lease.holder ?? THIS_INSTANCE;
  const { start, end } = lastEndedPeriod(s.every, now);
  const file = join(s.dir, fileName(s, start));
  if (existsSync(file)) return null;
  const key = scheduleKey(s, start);
  if (await doneElsewhere(store, key, end)) return null;
  const job = `export:${key}`;
  if (!(await claimJob(store, job, holder, lease.liveMs))) return null;
  // A missed renewal only risks another instance taking over (the duplicate this prevents).
  const release = holdJob(store, job, holder, () => undefined, lease.liveMs);
  try {
    return await exportPeriod(store, s, { start, end, file, key });
  } finally {
    release();
  }
}

async function exportPeriod(store: Store, s: ScheduledExportConfig, p: { start: number; end: number; file: string; key: string }): Promise<string> {
  const { start, end, file, key } = p;
  mkdirSync(s.dir, { recursive: true });
  const params = new URLSearchParams(s.filter);
  params.delete('range');
  params.set('from', new Date(start).toISOString());
  params.set('to', new Date(end).toISOString());
  const state = parseExplorer(params);
  let row: AuditRow | undefined;
  const startedAt = new Date().toISOString();
  const ex = digestedExport(store, {
    filter: toFilter(state), filterQuery: explorerQuery(state), format: s.format, via: 'scheduled',
    who: { actor: 'scheduler', role: 'system', sourceIp: '', userAgent: '' },
    record: async (input) => {
      row = await appendAudit(store, { ...input, details: { ...input.details, schedule: key, file } });
    },
  });
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  try {
    for await (const c of ex.chunks) if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
  // No audit row, no file: the export is retried at the next check instead of published unaudited.
  const unaudited = await ex.audited;
  if (unaudited) {
    rmSync(partial, { force: true });
    throw new Error(`scheduled export ${key}: its audit row could not be written`, { cause: unaudited });
  }
  renameSync(partial, file);
  const d = ex.digest();
  const manifest: ExportManifest = {
    gatelog_export: 1, export_id: ex.exportId, file: fileName(s, start), format: s.format,
    filter: { query: explorerQuery(state), resolved: { ...toFilter(state) } }, ...d,
    started_at: startedAt, finished_at: new Date().toISOString(), by: { actor: 'scheduler', role: 'system' }, source: 'scheduled',
    ...(row ? { audit_id: row.id } : {}),
  };
  writeFileSync(`${file}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  // An erasure asked while the rows were being read may have missed them (its mutation ran after
  // the read began) and the file (not there yet when it looked): applied to the file now.
  const { erasures } = await listErasures(store, Date.parse(startedAt) - ERASURE_RACE_MS);
  if (erasures.length > 0) {
    const holds = await activeCallHolds(store);
    await scrubExportFile(store, file, s.format, erasures.map((e) => exportErasure(e, holds)));
  }
  return file;
}

/** How long before an export's start an erasure is still applied to its file (clocks of two hosts). */
const ERASURE_RACE_MS = 60_000;

export interface ScheduledExportsDeps {
  store: Store;
  schedules: readonly ScheduledExportConfig[];
  /** The store's retention: how long files are kept by default, and whether holds apply (export-expiry.ts). */
  retention: RetentionConfig;
  logger: Pick<Logger, 'info' | 'error'>;
  now?: () => number;
  /** How often due periods are looked for (default a minute). */
  checkEveryMs?: number;
  /** Upper bound of the random wait before a check (several instances; default 20 s). */
  jitterMs?: number;
}

/** Starts the schedules; `stop` waits for an export in progress. */
export function startScheduledExports(deps: ScheduledExportsDeps): { stop(): Promise<void> } {
  if (deps.schedules.length === 0) return { stop: async () => undefined };
  const now = deps.now ?? Date.now;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const check = async (): Promise<void> => {
    for (const s of deps.schedules) {
      if (stopped) return;
      try {
        const file = await runScheduledExport(deps.store, s, now());
        if (file) deps.logger.info({ file, every: s.every }, 'scheduled export written');
        const expired = await expireExports(deps.store, s, deps.retention, now());
        if (expired.removed.length > 0) deps.logger.info({ files: expired.removed, every: s.every }, 'scheduled exports past their keep removed');
        if (expired.held > 0) deps.logger.info({ files: expired.held, every: s.every, dir: s.dir }, 'scheduled exports past their keep kept: a legal hold may cover them');
      } catch (err) {
        deps.logger.error({ err, every: s.every, dir: s.dir }, 'scheduled export failed (retried at the next check)');
      }
    }
  };
  const tick = (): void => {
    const wait = Math.random() * (deps.jitterMs ?? 20_000);
    running = running.then(() => new Promise<void>((r) => setTimeout(r, wait).unref())).then(check);
  };
  const first = setTimeout(tick, 1_000);
  first.unref();
  const timer = setInterval(tick, deps.checkEveryMs ?? 60_000);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}

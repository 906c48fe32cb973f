// The files gatelog handed out (batch inputs: prompts; batch outputs: answers) deleted at their
// provider when gatelog's own promise on keeping data says so — a provider keeps them until
// someone deletes them (OpenAI: indefinitely). Which files are due is core's to say
// (store/batch-purge.ts): their team's `retention.calls` period has passed, or an erasure by key,
// team or date covers them; files of a batch in flight (or with results not yet recorded) and
// files under a legal hold of their key or team wait.
//
// A deletion is `DELETE /files/{id}` through the provider's Files API, as `files.delete` sends it.
// 2xx, or 404 (already gone), marks the row `deleted`; anything else (a 5xx, a 429, a network
// failure, a provider no longer configured) leaves the row as it was, written again so its TTL
// restarts, and the next sweep tries again: gatelog never forgets a file it could not delete.
// Every pass that deleted or failed something is audited (`file.purge`, with the file ids) and
// counted (gatelog_upstream_files_deleted_total / _delete_failures_total, by reason).
import { activeCallHolds, appendAudit, listErasures, type EraseRequest, type Logger, type RecordedErasure, type RetentionConfig, type Store } from '@gatelog/core';
import { saveBatchObjects, type BatchObjectRow } from '@gatelog/core/store/batch-objects';
import { erasureNamesFiles, filesToPurge, type PurgeCandidate, type PurgeReason } from '@gatelog/core/store/batch-purge';
import { classifyUpstreamError } from '../errors.ts';
import type { UpstreamFileMetrics } from '../metrics.ts';
import type { Provider } from '../providers/types.ts';
import { OBJECT_MAX_BYTES } from './files-routes.ts';

/** Files a sweep deletes at most (the oldest first; the next sweep goes on). */
const SWEEP_FILES = 500;
/** Files an erasure deletes before it answers; the sweep deletes the rest. */
const ERASE_NOW_FILES = 200;
/** Files an erasure looks at, to count those that wait. */
const ERASE_LOOK_FILES = 10_000;
/** Recorded erasures one query applies. */
const ERASURES_PER_QUERY = 200;
/** Deletions in flight at once. */
const PARALLEL = 4;

export const NOT_ATTRIBUTABLE = 'an erasure by user or trace names no file: a batch file holds the lines of many users and traces. Erase by key, team or date (before) to delete files at the provider.';
export const PURGE_OFF = 'batches.purge_upstream is off: gatelog deletes no files at the provider.';

/** What an erasure did to the files at the provider (its receipt's `upstream_files`). */
export interface UpstreamFilesReceipt {
  /** Deleted at the provider now (or found already gone). */
  deleted: number;
  /** The provider refused or could not be reached: the retention sweep tries again. */
  failed: number;
  /** Kept: a legal hold of their key or team covers them. */
  held: number;
  /** Their batch is still running (or its results not yet recorded), or more than one pass holds: the sweep deletes them later. */
  waiting: number;
  /** Why no file was looked at (an erasure by user or trace; the purge turned off). */
  skipped_reason?: string;
}

export interface UpstreamPurgeDeps {
  store: Store;
  /** The providers by config name; only their Files API is used. */
  providers: ReadonlyMap<string, Pick<Provider, 'files'>>;
  /** `retention.calls` and its per-team periods. */
  retention: RetentionConfig;
  /** `batches.purge_upstream`. */
  enabled: boolean;
  /** The clock files are stamped with (the governance clock). */
  now: () => number;
  logger: Logger;
  metrics: UpstreamFileMetrics;
}

export interface UpstreamPurge {
  readonly enabled: boolean;
  /** One sweep: the files retention or any recorded erasure makes due. */
  sweep(): Promise<{ deleted: number; failed: number }>;
  /** The files erasure `r` (asked at `at`, epoch ms) covers, deleted now as far as they may be. */
  erase(r: EraseRequest, at: number): Promise<UpstreamFilesReceipt>;
}

type Outcome = { row: PurgeCandidate; gone: true; status: number } | { row: PurgeCandidate; gone: false; why: string };

async function deleteAtProvider(providers: UpstreamPurgeDeps['providers'], row: PurgeCandidate): Promise<Outcome> {
  const files = providers.get(row.provider)?.files;
  if (!files) return { row, gone: false, why: 'provider_unavailable' };
  try {
    const res = await files.send({ method: 'DELETE', path: `/files/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES);
    // 404: the provider no longer has it (deleted by hand, expired there): what was asked for.
    if ((res.status >= 200 && res.status < 300) || res.status === 404) return { row, gone: true, status: res.status };
    return { row, gone: false, why: `http_${res.status}` };
  } catch (err) {
    return { row, gone: false, why: classifyUpstreamError(err).errorClass };
  }
}

/** `rows` deleted upstream, PARALLEL at a time, in their order. */
async function deleteAll(providers: UpstreamPurgeDeps['providers'], rows: readonly PurgeCandidate[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array<Outcome>(rows.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < rows.length; i = next++) out[i] = await deleteAtProvider(providers, rows[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, rows.length) }, worker));
  return out;
}

const asRow = ({ reason: _reason, busy: _busy, held: _held, ...row }: PurgeCandidate): BatchObjectRow => row;

export function createUpstreamPurge(d: UpstreamPurgeDeps): UpstreamPurge {
  /** Deletes `rows` upstream, records what happened; the counts. */
  const purge = async (rows: readonly PurgeCandidate[]): Promise<{ deleted: number; failed: number }> => {
    if (rows.length === 0) return { deleted: 0, failed: 0 };
    const outcomes = await deleteAll(d.providers, rows);
    // Gone: marked deleted. Not gone: written again as it was, so its TTL starts over.
    await saveBatchObjects(d.store, outcomes.map((o) => (o.gone ? { ...asRow(o.row), status: 'deleted' } : asRow(o.row))));
    for (const reason of ['retention', 'erasure'] as const satisfies readonly PurgeReason[]) {
      const mine = outcomes.filter((o) => o.row.reason === reason);
      if (mine.length === 0) continue;
      const deleted = mine.filter((o) => o.gone);
      const failed = mine.flatMap((o) => (o.gone ? [] : [{ id: o.row.id, provider: o.row.provider, team: o.row.team, error: o.why }]));
      d.metrics.deleted(reason, deleted.length);
      d.metrics.failed(reason, failed.length);
      await appendAudit(d.store, {
        actor: 'gatelog', role: 'system', action: 'file.purge', targetType: 'file', target: reason,
        details: { reason, deleted: deleted.map((o) => ({ id: o.row.id, provider: o.row.provider, team: o.row.team, key_id: o.row.key_id, purpose: o.row.purpose })), failed },
        at: new Date(d.now()),
      });
      if (failed.length) d.logger.warn({ reason, failed, code: 'GATELOG_ERR_FILE_PURGE' }, 'could not delete files at their provider; the next sweep tries again');
      if (deleted.length) d.logger.info({ reason, files: deleted.length }, 'deleted files at their provider');
    }
    const deleted = outcomes.filter((o) => o.gone).length;
    return { deleted, failed: outcomes.length - deleted };
  };

  return {
    enabled: d.enabled,
    async sweep() {
      if (!d.enabled) return { deleted: 0, failed: 0 };
      const [holds, { erasures }] = await Promise.all([activeCallHolds(d.store), listErasures(d.store, 0)]);
      // Every recorded erasure, again: it may cover files that were waiting (a batch then running)
      // or failed. A few hundred per query keep the SQL small however many were recorded.
      // Retention takes half a sweep first, so neither kind can starve the other (files that keep
      // failing stay due); the rest is filled by erasures, then by retention again.
      const naming = erasures.filter((e) => erasureNamesFiles(e.request));
      const due = new Map<string, PurgeCandidate>();
      const q = { now: d.now(), holds, waiting: false };
      const take = async (retention: RetentionConfig | null, named: readonly RecordedErasure[], upTo: number): Promise<void> => {
        if (due.size >= upTo) return;
        for (const f of await filesToPurge(d.store, { ...q, retention, erasures: named, limit: upTo })) if (due.size < upTo && !due.has(f.id)) due.set(f.id, f);
      };
      await take(d.retention, [], SWEEP_FILES / 2);
      for (let i = 0; i < naming.length && due.size < SWEEP_FILES; i += ERASURES_PER_QUERY) await take(null, naming.slice(i, i + ERASURES_PER_QUERY), SWEEP_FILES);
      await take(d.retention, [], SWEEP_FILES);
      return purge([...due.values()]);
    },
    async erase(r, at) {
      const none = { deleted: 0, failed: 0, held: 0, waiting: 0 };
      if (!d.enabled) return { ...none, skipped_reason: PURGE_OFF };
      if (!erasureNamesFiles(r)) return { ...none, skipped_reason: NOT_ATTRIBUTABLE };
      const holds = await activeCallHolds(d.store);
      const rows = await filesToPurge(d.store, { now: d.now(), retention: null, erasures: [{ id: '', at, request: r }], holds, waiting: true, limit: ERASE_LOOK_FILES });
      const held = rows.filter((x) => x.held).length;
      const due = rows.filter((x) => !x.held && !x.busy);
      const done = await purge(due.slice(0, ERASE_NOW_FILES));
      return { ...done, held, waiting: rows.length - held - Math.min(due.length, ERASE_NOW_FILES) };
    },
  };
}

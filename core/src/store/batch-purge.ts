// Which of the files gatelog handed out (batch_objects, kind `file`: uploaded batch inputs and
// batches' output and error files) are due to be deleted at their provider, where they would
// otherwise stay for as long as the upstream keeps them (OpenAI: until someone deletes them):
//   - retention: the team's `retention.calls` period has passed since the file was made (a
//     batch's result files count from when the batch was made, as its recorded calls do);
//   - erasure: a recorded erasure by key, team or date covers it (made before the erasure was
//     asked, by that key / in those teams / before that date). An erasure by user or trace names
//     no file: one batch file holds the lines of many users and traces.
// A file waits while its batch is in flight or has results not yet recorded (`busy`: deleting it
// would break the batch, or leave its results unrecorded and the poller asking forever; a day at
// most for the recording), and while a legal hold covers it (`held`, heldFilesSql). Every value
// reaches SQL as a number or a hex literal.
import { z } from 'zod';
import type { Store } from './client.ts';
import { BATCH_IN_FLIGHT, BATCH_OBJECT_COLUMNS, BATCH_RESULTS, BatchObjectRow } from './batch-objects.ts';
import { beforeMs, type EraseRequest, type RecordedErasure } from './erasure.ts';
import { durationMs, heldExpr, periodFor, sqlText, type CallHold, type RetentionConfig } from './retention.ts';
import { readQuery } from './read-query.ts';

export type PurgeReason = 'retention' | 'erasure';

/** Whether an erasure can name files: not by user or trace (a batch file mixes them). */
export const erasureNamesFiles = (r: EraseRequest): boolean => r.user === undefined && r.trace === undefined;

const at = (ms: number): string => `fromUnixTimestamp64Milli(${Math.max(0, Math.trunc(ms))}, 'UTC')`;

/** SQL: a file made before its team's calls period ended by `now` (0 when every period is forever). */
export function expiredFilesSql(r: Pick<RetentionConfig, 'bodies' | 'calls' | 'teams'>, now: number): string {
  const cut = (d: string): string => {
    const ms = durationMs(d);
    return ms === null ? '0' : `created_at < ${at(now - ms)}`;
  };
  const own = Object.keys(r.teams).filter((team) => periodFor(r, 'calls', team) !== r.calls).sort();
  if (own.length === 0) return cut(r.calls);
  return `multiIf(${own.map((team) => `team = ${sqlText(team)}, ${cut(periodFor(r, 'calls', team))}`).join(', ')}, ${cut(r.calls)})`;
}

/** SQL: a file one of `erasures` covers (those by user or trace name none). */
export function erasedFilesSql(erasures: readonly RecordedErasure[]): string {
  const parts = erasures.filter((e) => erasureNamesFiles(e.request)).map(({ request: r, at: asked }) => {
    const w = [`created_at < ${at(asked)}`];
    if (r.key !== undefined) w.push(`key_id = ${sqlText(r.key)}`);
    if (r.before !== undefined) w.push(`created_at < ${at(beforeMs(r.before))}`);
    if (r.teams !== undefined) w.push(`team IN (${r.teams.map(sqlText).join(', ')})`);
    return `(${w.join(' AND ')})`;
  });
  return parts.length ? `(${parts.join(' OR ')})` : '0';
}

/** SQL: the ids of the files (input, output, error) of the batches `where` selects. */
const filesOfBatches = (db: string, where: string): string =>
  `SELECT arrayJoin([input_file_id, JSONExtractString(object, 'output_file_id'), JSONExtractString(object, 'error_file_id')])
   FROM ${db}.batch_objects FINAL WHERE kind = 'batch' AND (${where})`;

/**
 * SQL: a file a legal hold covers. A key or team hold by the calls' rule (heldExpr) over the
 * file's key and team. A user or trace hold names no file, but it holds calls: the files of a
 * batch one of whose recorded calls is held (llm_calls.legal_hold, kept by markHolds) are kept
 * with them. An input file no batch has used yet shows no user: a user or trace hold cannot keep it.
 */
export function heldFilesSql(db: string, holds: readonly CallHold[]): string {
  const own = heldExpr(holds.filter((h) => h.kind === 'key' || h.kind === 'team'));
  if (!holds.some((h) => h.kind === 'user' || h.kind === 'trace')) return own;
  const heldBatches = `SELECT tags['gatelog.batch'] FROM ${db}.llm_calls WHERE legal_hold AND tags['gatelog.batch'] != ''`;
  return `(${own} OR id IN (${filesOfBatches(db, `id IN (${heldBatches})`)}))`;
}

/**
 * How long after a batch was last seen (ended) its files wait for its results to be recorded. The
 * poller records them within a poll; one that cannot (its output file deleted by the client
 * before, say) would otherwise keep the batch's prompts upstream for good.
 */
const RECORDING_GRACE_HOURS = 24;

/** SQL: ids of the files of batches in flight or with results not yet recorded. */
function busyFilesSql(db: string): string {
  const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ');
  return filesOfBatches(db, `status IN (${list(BATCH_IN_FLIGHT)})
    OR (status IN (${list(BATCH_RESULTS)}) AND updated_at > now64(6) - toIntervalHour(${RECORDING_GRACE_HOURS})
        AND id NOT IN (SELECT id FROM ${db}.batch_objects WHERE kind = 'batch_recorded'))`);
}

export const PurgeCandidate = BatchObjectRow.extend({
  reason: z.enum(['retention', 'erasure']),
  busy: z.union([z.number(), z.boolean()]).transform(Boolean),
  held: z.union([z.number(), z.boolean()]).transform(Boolean),
});
export type PurgeCandidate = z.infer<typeof PurgeCandidate>;

export interface PurgeQuery {
  /** The clock retention is counted on (epoch ms). */
  now: number;
  /** Retention's periods; null: only erasures. */
  retention: Pick<RetentionConfig, 'bodies' | 'calls' | 'teams'> | null;
  erasures: readonly RecordedErasure[];
  /** Active legal holds. */
  holds: readonly CallHold[];
  /** Also the files that wait (busy or held), to count them; else only those to delete now. */
  waiting: boolean;
  limit: number;
}

/**
 * Files not yet deleted that retention or an erasure makes due, at most `limit`, the least
 * recently written first: a file whose deletion failed is written again, so it goes to the back
 * and files that keep failing (a provider down or removed) never hold up the others.
 */
export async function filesToPurge(store: Store, q: PurgeQuery): Promise<PurgeCandidate[]> {
  const db = store.database;
  const expired = q.retention ? expiredFilesSql(q.retention, q.now) : '0';
  const erased = erasedFilesSql(q.erasures);
  if (expired === '0' && erased === '0') return [];
  const rs = await readQuery(store, {
    query: `SELECT ${BATCH_OBJECT_COLUMNS}, reason, busy, held FROM (
              SELECT ${BATCH_OBJECT_COLUMNS}, updated_at, ${expired} AS expired, ${erased} AS erased, if(erased, 'erasure', 'retention') AS reason,
                     id IN (${busyFilesSql(db)}) AS busy, ${heldFilesSql(db, q.holds)} AS held
              FROM ${db}.batch_objects FINAL WHERE kind = 'file' AND status != 'deleted')
            WHERE (expired OR erased)${q.waiting ? '' : ' AND NOT busy AND NOT held'}
            ORDER BY updated_at, id LIMIT {limit:UInt32}`,
    query_params: { limit: q.limit },
  });
  return z.array(PurgeCandidate).parse(await rs.json());
}

// Who owns each OpenAI file and batch job gatelog handed out (migration 0034): written when an
// object is made or seen again, read for every files/batches request (ownership, lists) and by
// the poller of batches in flight. Reads take the newest version (FINAL); every value is bound.
import { z } from 'zod';
import type { Store } from './client.ts';
import { ChTime } from './row-types.ts';
import { readQuery } from './read-query.ts';

export type BatchObjectKind = 'file' | 'batch';

export const BatchObjectRow = z.object({
  id: z.string(),
  kind: z.enum(['file', 'batch']),
  provider: z.string(),
  team: z.string(),
  key_id: z.string(),
  key_name: z.string(),
  created_at: ChTime,
  purpose: z.string(),
  input_file_id: z.string(),
  /** Batches: OpenAI's status; files: `processed`, …, or `deleted` once deleted through gatelog. */
  status: z.string(),
  line_models: z.string(),
  object: z.string(),
});
export type BatchObjectRow = z.infer<typeof BatchObjectRow>;

/** The row's columns, as a SELECT list. */
export const BATCH_OBJECT_COLUMNS = Object.keys(BatchObjectRow.shape).join(', ');
const COLUMNS = BATCH_OBJECT_COLUMNS;
/** ClickHouse's DateTime64 text for an ISO time. */
const chTime = (iso: string): string => iso.replace('T', ' ').replace('Z', '');

/** Writes these versions of the rows (the newest version of an id wins). */
export async function saveBatchObjects(store: Store, rows: readonly BatchObjectRow[]): Promise<void> {
  if (rows.length === 0) return;
  const lines = rows.map((r) => JSON.stringify({ ...r, created_at: chTime(r.created_at) })).join('\n');
  await store.insertRaw('batch_objects', Buffer.from(`${lines}\n`));
}

/** The newest version of `id` of `kind`, if gatelog handed it out. */
export async function batchObject(store: Store, kind: BatchObjectKind, id: string): Promise<BatchObjectRow | undefined> {
  const rs = await readQuery(store, {
    query: `SELECT ${COLUMNS} FROM ${store.database}.batch_objects FINAL WHERE kind = {kind:String} AND id = {id:String} LIMIT 1`,
    query_params: { kind, id },
  });
  return z.array(BatchObjectRow).parse(await rs.json())[0];
}

export interface BatchListQuery {
  kind: BatchObjectKind;
  /** Whose objects: a team's, or (a key with no team) a key's; null = everyone's. */
  owner: { team: string } | { keyId: string } | null;
  purpose?: string | undefined;
  /** Objects listed after this id (OpenAI's `after`), newest first. */
  after?: string | undefined;
  limit: number;
}

/** Newest first; `limit + 1` rows are asked for so the caller knows whether more follow. */
export async function listBatchObjects(store: Store, q: BatchListQuery): Promise<BatchObjectRow[]> {
  const where = ['kind = {kind:String}', "status != 'deleted'"];
  if (q.owner && 'team' in q.owner) where.push('team = {team:String}');
  if (q.owner && 'keyId' in q.owner) where.push("team = '' AND key_id = {keyId:String}");
  if (q.purpose !== undefined) where.push('purpose = {purpose:String}');
  if (q.after !== undefined) {
    where.push(`(created_at, id) < (SELECT created_at, id FROM ${store.database}.batch_objects FINAL WHERE kind = {kind:String} AND id = {after:String} LIMIT 1)`);
  }
  const rs = await readQuery(store, {
    query: `SELECT ${COLUMNS} FROM ${store.database}.batch_objects FINAL WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}`,
    query_params: {
      kind: q.kind, limit: q.limit + 1,
      ...(q.owner && 'team' in q.owner ? { team: q.owner.team } : {}),
      ...(q.owner && 'keyId' in q.owner ? { keyId: q.owner.keyId } : {}),
      ...(q.purpose !== undefined ? { purpose: q.purpose } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
    },
  });
  return z.array(BatchObjectRow).parse(await rs.json());
}

/** Statuses a batch moves on from (the poller asks about them). */
export const BATCH_IN_FLIGHT = ['validating', 'in_progress', 'finalizing', 'cancelling'] as const;

/**
 * Statuses whose results are recorded: a completed batch's, and what a cancelled or expired one
 * finished (OpenAI bills those lines and writes them to its output file).
 */
export const BATCH_RESULTS = ['completed', 'cancelled', 'expired'] as const;

/**
 * Batches the poller looks at: in flight, or ended with results not yet recorded (a process
 * stopped between seeing it end and recording it). Oldest first, at most `limit`.
 */
export async function batchesToPoll(store: Store, limit: number): Promise<BatchObjectRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT ${COLUMNS} FROM ${store.database}.batch_objects FINAL
            WHERE kind = 'batch' AND (status IN {flight:Array(String)}
              OR (status IN {ended:Array(String)} AND id NOT IN (SELECT id FROM ${store.database}.batch_objects WHERE kind = 'batch_recorded')))
            ORDER BY created_at LIMIT {limit:UInt32}`,
    query_params: { flight: [...BATCH_IN_FLIGHT], ended: [...BATCH_RESULTS], limit },
  });
  return z.array(BatchObjectRow).parse(await rs.json());
}

/** True once `batchId`'s results were recorded as calls (markBatchRecorded). */
export async function batchRecorded(store: Store, batchId: string): Promise<boolean> {
  const rs = await readQuery(store, {
    query: `SELECT count() AS n FROM ${store.database}.batch_objects WHERE kind = 'batch_recorded' AND id = {id:String}`,
    query_params: { id: batchId },
  });
  return z.array(z.object({ n: z.coerce.number() })).parse(await rs.json())[0]?.n !== 0;
}

/** Marks `batchId`'s results as recorded: a row of its own, so no later version of the batch row undoes it. */
export async function markBatchRecorded(store: Store, batchId: string, lines: number): Promise<void> {
  await store.client.command({
    query: `INSERT INTO ${store.database}.batch_objects (id, kind, created_at, status) VALUES ({id:String}, 'batch_recorded', now64(3), {status:String})`,
    query_params: { id: batchId, status: `lines:${lines}` },
  });
}

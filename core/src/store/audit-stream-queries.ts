// The durable cursors of audit streaming (migration 0032): per sink and chain, the highest seq
// a sink accepted; the rows of the trail past them, in (chain_id, seq) order; how far behind
// each chain is; and each sink's last delivery outcome (migration 0033). Reads go
// through readQuery: embedded, on a reader connection of their own with inlined values, so the
// forwarder's polling never queues key lookups, pages or ingest's writes.
import { z } from 'zod';
import type { Store } from './client.ts';
import { AuditRow } from './audit.ts';
import { auditSelect } from './audit-queries.ts';
import { ChTime, Num } from './row-types.ts';
import { readQuery } from './read-query.ts';

const CursorRow = z.object({ chain_id: z.string(), seq: Num, delivered_at: ChTime });
export type CursorRow = z.infer<typeof CursorRow>;

/** Per chain, the highest seq the sink accepted and when its cursor last moved. */
export async function sinkCursorRows(store: Store, sink: string): Promise<CursorRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT chain_id, max(seq) AS seq, max(updated_at) AS delivered_at FROM ${store.database}.audit_stream_cursor WHERE sink = {sink:String} GROUP BY chain_id`,
    query_params: { sink },
  });
  return z.array(CursorRow).parse(await rs.json());
}

/** chain_id → highest seq the sink accepted. */
export async function sinkCursors(store: Store, sink: string): Promise<Map<string, number>> {
  return new Map((await sinkCursorRows(store, sink)).map((r) => [r.chain_id, r.seq]));
}

const ChainProgress = z.object({ chain_id: z.string(), head_seq: Num, behind: Num, oldest_ms: Num });
/** A chain against one sink's cursor: its head, rows past the cursor and the oldest one's time (ms; 0 when none). */
export type ChainProgress = z.infer<typeof ChainProgress>;

/** Every chain of the trail measured against `cursors` (sinkCursors), in chain_id order. */
export async function chainProgress(store: Store, cursors: ReadonlyMap<string, number>): Promise<ChainProgress[]> {
  const rs = await readQuery(store, {
    query: `SELECT chain_id, max(seq) AS head_seq, uniqExactIf(seq, seq > done) AS behind,
                   if(behind = 0, 0, toUnixTimestamp64Milli(minIf(at, seq > done))) AS oldest_ms
            FROM (SELECT chain_id, seq, at, arrayElement({done:Array(UInt64)}, indexOf({chains:Array(String)}, chain_id)) AS done
                  FROM ${store.database}.admin_audit WHERE chain_id != '')
            GROUP BY chain_id ORDER BY chain_id`,
    query_params: { chains: [...cursors.keys()], done: [...cursors.values()] },
  });
  return z.array(ChainProgress).parse(await rs.json());
}

const SinkOutcome = z.object({
  failures: Num,
  failing_since: ChTime,
  http_status: Num,
  error: z.string(),
  reason: z.string(),
  error_at: ChTime,
});
/** A sink's last delivery outcome as shared by every process (failures 0: the last batch was taken). */
export type SinkOutcome = z.infer<typeof SinkOutcome>;

/** The newest outcome stored for `sink`, if any. */
export async function sinkOutcome(store: Store, sink: string): Promise<SinkOutcome | undefined> {
  const rs = await readQuery(store, {
    query: `SELECT failures, failing_since, http_status, error, reason, error_at FROM ${store.database}.audit_stream_status
            WHERE sink = {sink:String} ORDER BY updated_at DESC LIMIT 1`,
    query_params: { sink },
  });
  return z.array(SinkOutcome).parse(await rs.json())[0];
}

/** Records `sink`'s outcome; ClickHouse's clock orders the records (the newest wins). */
export async function saveSinkOutcome(store: Store, sink: string, o: SinkOutcome): Promise<void> {
  await store.client.command({
    query: `INSERT INTO ${store.database}.audit_stream_status (sink, failures, failing_since, http_status, error, reason, error_at)
            SELECT {sink:String}, {failures:UInt32}, parseDateTime64BestEffort({since:String}, 3, 'UTC'), {status:UInt16}, {error:String}, {reason:String},
                   parseDateTime64BestEffort({at:String}, 3, 'UTC')`,
    query_params: { sink, failures: o.failures, since: o.failing_since, status: o.http_status, error: o.error, reason: o.reason, at: o.error_at },
  });
}

/**
 * Up to `limit` chained rows past `cursors` (sinkCursors), in (chain_id, seq) order, the chains
 * in `last` after the others (a chain held up by a row the sink refuses must not fill every
 * batch). The cursor test is a WHERE over chain_id and seq only, so ClickHouse reads those two
 * columns of the trail to find the rows and the rest only for the rows it returns.
 */
export async function rowsPastCursors(store: Store, cursors: ReadonlyMap<string, number>, limit: number, last: readonly string[] = []): Promise<AuditRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT ${auditSelect('jsonl')} FROM ${store.database}.admin_audit
            WHERE chain_id != '' AND seq > arrayElement({done:Array(UInt64)}, indexOf({chains:Array(String)}, chain_id))
            ORDER BY has({last:Array(String)}, chain_id), chain_id, seq, id LIMIT {limit:UInt32}`,
    query_params: { chains: [...cursors.keys()], done: [...cursors.values()], limit, last },
  });
  return z.array(AuditRow).parse(await rs.json());
}

/** Records that the sink accepted every row up to `seq` of each chain. */
export async function saveSinkCursors(store: Store, sink: string, heads: ReadonlyMap<string, number>): Promise<void> {
  if (heads.size === 0) return;
  const lines = [...heads].map(([chain_id, seq]) => JSON.stringify({ sink, chain_id, seq })).join('\n');
  await store.insertRaw('audit_stream_cursor', Buffer.from(`${lines}\n`));
}

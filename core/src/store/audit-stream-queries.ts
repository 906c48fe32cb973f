// The durable cursors of audit streaming (migration 0032): per sink and chain, the highest seq
// a sink accepted; and the rows of the trail past them, in (chain_id, seq) order. Reads go
// through readQuery: embedded, on a reader connection of their own with inlined values, so the
// forwarder's polling never queues key lookups, pages or ingest's writes.
import { z } from 'zod';
import type { Store } from './client.ts';
import { AuditRow } from './audit.ts';
import { auditSelect } from './audit-queries.ts';
import { Num } from './row-types.ts';
import { readQuery } from './read-query.ts';

/** chain_id → highest seq the sink accepted. */
export async function sinkCursors(store: Store, sink: string): Promise<Map<string, number>> {
  const rs = await readQuery(store, {
    query: `SELECT chain_id, max(seq) AS seq FROM ${store.database}.audit_stream_cursor WHERE sink = {sink:String} GROUP BY chain_id`,
    query_params: { sink },
  });
  const rows = z.array(z.object({ chain_id: z.string(), seq: Num })).parse(await rs.json());
  return new Map(rows.map((r) => [r.chain_id, r.seq]));
}

/**
 * Up to `limit` chained rows past `cursors` (sinkCursors), in (chain_id, seq) order. The cursor
 * test is a WHERE over chain_id and seq only, so ClickHouse reads those two columns of the
 * trail to find the rows and the rest only for the rows it returns.
 */
export async function rowsPastCursors(store: Store, cursors: ReadonlyMap<string, number>, limit: number): Promise<AuditRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT ${auditSelect('jsonl')} FROM ${store.database}.admin_audit
            WHERE chain_id != '' AND seq > arrayElement({done:Array(UInt64)}, indexOf({chains:Array(String)}, chain_id))
            ORDER BY chain_id, seq, id LIMIT {limit:UInt32}`,
    query_params: { chains: [...cursors.keys()], done: [...cursors.values()], limit },
  });
  return z.array(AuditRow).parse(await rs.json());
}

/** Records that the sink accepted every row up to `seq` of each chain. */
export async function saveSinkCursors(store: Store, sink: string, heads: ReadonlyMap<string, number>): Promise<void> {
  if (heads.size === 0) return;
  const lines = [...heads].map(([chain_id, seq]) => JSON.stringify({ sink, chain_id, seq })).join('\n');
  await store.insertRaw('audit_stream_cursor', Buffer.from(`${lines}\n`));
}

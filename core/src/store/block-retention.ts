// Retention, legal holds and erasure for body blocks (blocks.ts, llm_blocks).
//
// A block has no call of its own: it lives while calls use it. Its TTL counts from last_seen
// (refreshed by ingest whenever a call uses it again, at most every few minutes), plus the
// bodies' retention, so it outlives the bodies of every call that names it; the TTL is set with
// the others in retention.ts. A TTL cannot see legal holds, so `keepHeldBlocks` (run by every
// retention sweep and hold change, through markHolds) writes the blocks of held calls again
// with a fresh last_seen. Erasure deletes the blocks the erased calls used that no remaining
// call uses (`eraseOrphanBlocks`).
import { randomBytes } from 'node:crypto';
import type { Store } from './client.ts';

/** Every block hash a call row names: its request's and each attempt's upstream request's. */
export const PART_HASHES_SQL = `arrayConcat(arrayMap(x -> x.2, request_parts), arrayFlatten(arrayMap(a -> arrayMap(x -> x.2, a.request_parts), attempt_io)))`;

/** Refresh last_seen of the blocks held calls use, so their TTL never removes them. */
export async function keepHeldBlocks(store: Pick<Store, 'client' | 'database'>): Promise<void> {
  const db = store.database;
  await store.client.command({
    query: `INSERT INTO ${db}.llm_blocks (hash, body, bytes, last_seen)
            SELECT hash, any(body), any(bytes), now() FROM ${db}.llm_blocks
            WHERE hash IN (SELECT arrayJoin(${PART_HASHES_SQL}) FROM ${db}.llm_calls WHERE legal_hold AND notEmpty(${PART_HASHES_SQL}))
            GROUP BY hash`,
  });
}

/**
 * Run `erase` (the calls' mutation), then delete the blocks the calls matching `where` used and
 * no call still uses. The candidates are noted before the mutation (in a Memory table of this
 * erasure's own), since afterwards the erased calls no longer name them. Returns the blocks
 * deleted and their bytes.
 */
export async function eraseOrphanBlocks(store: Pick<Store, 'client' | 'database'>, where: string, erase: () => Promise<void>): Promise<{ blocks: number; bytes: number }> {
  const db = store.database;
  const tmp = `${db}.erase_blocks_${randomBytes(8).toString('hex')}`;
  await store.client.command({
    query: `CREATE TABLE ${tmp} ENGINE = Memory AS SELECT DISTINCT arrayJoin(${PART_HASHES_SQL}) AS hash FROM ${db}.llm_calls WHERE ${where}`,
  });
  try {
    await erase();
    // Most erasures name no split body: then llm_calls is not scanned for the references left.
    const cs = await store.client.query({ query: `SELECT count() AS n FROM ${tmp}`, format: 'JSONEachRow' });
    if (Number((await cs.json<{ n: string | number }>())[0]?.n ?? 0) === 0) return { blocks: 0, bytes: 0 };
    const orphans = `hash IN (SELECT hash FROM ${tmp}) AND hash NOT IN (SELECT arrayJoin(${PART_HASHES_SQL}) FROM ${db}.llm_calls WHERE notEmpty(${PART_HASHES_SQL}))`;
    const rs = await store.client.query({ query: `SELECT count() AS n, sum(bytes) AS b FROM (SELECT hash, any(bytes) AS bytes FROM ${db}.llm_blocks WHERE ${orphans} GROUP BY hash)`, format: 'JSONEachRow' });
    const [c] = await rs.json<{ n: string | number; b: string | number }>();
    const n = Number(c?.n ?? 0);
    if (n > 0) await store.client.command({ query: `ALTER TABLE ${db}.llm_blocks DELETE WHERE ${orphans}`, clickhouse_settings: { mutations_sync: '2' } });
    return { blocks: n, bytes: Number(c?.b ?? 0) };
  } finally {
    await store.client.command({ query: `DROP TABLE IF EXISTS ${tmp}` });
  }
}

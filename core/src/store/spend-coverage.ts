// Which of a proxy's settled calls the store holds: the budget ledger keeps a settled cost
// counted locally until then, and must ask before it reads spend (keys.ts spendByScope) so that
// read includes every call found here. One query per chunk of ids, each narrowed to its calls'
// start times (the sorting key begins with toDate(started_at), started_at) and then by the
// request_id bloom filter, so a refresh reads a few granules, not the period.
import { z } from 'zod';
import type { Store } from './client.ts';
import { inlineParams } from './inline-params.ts';

export interface CallRef {
  requestId: string;
  /** The call's started_at (epoch ms). */
  startedAt: number;
}

/** Ids per query: ~80 bytes each inline, well under ClickHouse's max_query_size (256 KiB). */
export const COVERAGE_CHUNK = 1000;
/** Only ids of the shape the request_id column (UUID) can hold are asked about. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const Row = z.object({ id: z.string() });

const chMs = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** The request ids among `calls` that the store holds (any outcome, lower-case). */
export async function storedRequestIds(store: Pick<Store, 'client' | 'database'>, calls: readonly CallRef[]): Promise<Set<string>> {
  const found = new Set<string>();
  const asked = calls.filter((c) => UUID_RE.test(c.requestId) && Number.isFinite(c.startedAt));
  for (let i = 0; i < asked.length; i += COVERAGE_CHUNK) {
    const chunk = asked.slice(i, i + COVERAGE_CHUNK);
    let from = Infinity;
    let to = -Infinity;
    for (const c of chunk) {
      from = Math.min(from, c.startedAt);
      to = Math.max(to, c.startedAt);
    }
    const params = { from: chMs(from), to: chMs(to), ids: chunk.map((c) => c.requestId.toLowerCase()) };
    const rs = await store.client.query({
      // Values bound inline (inline-params.ts): the ids travel in the body, not in a URL that a
      // ClickHouse server or a proxy in front of it may cap, and the embedded store's shared
      // parameter queue is not held.
      query: inlineParams(
        `SELECT DISTINCT toString(request_id) AS id FROM ${store.database}.llm_calls
         WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at <= {to:DateTime64(3, 'UTC')}
           AND request_id IN {ids:Array(UUID)}`,
        params,
      ),
      format: 'JSONEachRow',
    });
    for (const r of z.array(Row).parse(await rs.json())) found.add(r.id);
  }
  return found;
}

// Replays of a recorded call (llm_calls.replay_of, migration 0020): the compare view lists
// them next to the original. Parameterized; newest first, bounded.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { ChTime, Num } from './row-types.ts';

export const ReplayRow = z.object({
  request_id: z.string(),
  started_at: ChTime,
  requested_model: z.string(),
  status: Num,
  team: z.string(),
});
export type ReplayRow = z.infer<typeof ReplayRow>;

/** The calls that replay `requestId`, newest first (at most `limit`). */
export async function replaysOf(store: Store, requestId: string, limit = 20): Promise<ReplayRow[]> {
  const rs = await readQuery(store, {
    query: `SELECT request_id, started_at, requested_model, status, team
            FROM ${store.database}.llm_calls
            WHERE replay_of = {id:String}
            ORDER BY started_at DESC, request_id DESC
            LIMIT 1 BY request_id
            LIMIT {limit:UInt32}`,
    query_params: { id: requestId, limit },
  });
  return z.array(ReplayRow).parse(await rs.json());
}

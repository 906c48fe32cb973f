// Read queries the UI needs beyond queries.ts. Same rules: values only as typed parameters.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { SPLIT_COLUMNS_SQL, splitPreviews } from './split-previews.ts';

/**
 * The text a person typed, for list previews: the last user message of a chat/messages
 * request (string content, or the first part's text, or the first part's string content: a
 * coding agent's tool result), else a completions `prompt` or an
 * embeddings/responses `input` string. Computed in ClickHouse so a long system prompt or a
 * big body never travels to the UI just to show 200 characters.
 */
export const PREVIEW_SQL = `substring(multiIf(
    length(um) > 0, multiIf(JSONType(um[-1], 'content') = 'String', JSONExtractString(um[-1], 'content'),
      JSONType(um[-1], 'content', 1, 'text') = 'String', JSONExtractString(um[-1], 'content', 1, 'text'),
      JSONExtractString(um[-1], 'content', 1, 'content')),
    JSONType(request_body, 'prompt') = 'String', JSONExtractString(request_body, 'prompt'),
    JSONType(request_body, 'input') = 'String', JSONExtractString(request_body, 'input'),
    ''), 1, {chars:UInt32})`;

/** The user messages of a request body, as PREVIEW_SQL expects them in a column named `um`. */
export const USER_MESSAGES_SQL = `arrayFilter(m -> JSONExtractString(m, 'role') = 'user', JSONExtractArrayRaw(request_body, 'messages'))`;

/** A call's preview; `prefix` (the body's first characters) only for a split body, whose stored text is a skeleton. */
export interface CallPreview {
  preview: string;
  prefix?: string | undefined;
}

/** Prompt previews for the given calls (ids plus their time span, to prune by the sort key). */
export async function callPreviews(
  store: Store,
  calls: readonly { request_id: string; started_at: string }[],
  chars = 200,
): Promise<Map<string, CallPreview>> {
  if (calls.length === 0) return new Map();
  const times = calls.map((c) => c.started_at).sort();
  // Not FINAL: under FINAL the id bloom filter goes unused, and a page sorted by cost spans
  // weeks (2 s at 10M calls). A duplicate not merged yet is the same call: LIMIT 1 BY.
  const rs = await readQuery(store, {
    query: `SELECT request_id, ${PREVIEW_SQL} AS preview, split_skeleton, split_parts, split_bytes
            FROM (
              SELECT request_id, request_body, ${USER_MESSAGES_SQL} AS um, ${SPLIT_COLUMNS_SQL}
              FROM ${store.database}.llm_calls
              WHERE started_at BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}
                AND request_id IN {ids:Array(UUID)}
              LIMIT 1 BY request_id
            )`,
    query_params: {
      ids: calls.map((c) => c.request_id),
      from: times[0]!.replace('T', ' ').replace('Z', ''),
      to: times[times.length - 1]!.replace('T', ' ').replace('Z', ''),
      chars,
    },
  });
  const rows = z.array(z.object({ request_id: z.string(), preview: z.string(), split_skeleton: z.string(), split_parts: z.unknown(), split_bytes: z.coerce.number() })).parse(await rs.json());
  // A split body's stored text is a skeleton: its preview comes from the body put back together.
  const split = await splitPreviews(store, rows, chars);
  return new Map(rows.map((r) => [r.request_id, split.get(r.request_id) ?? { preview: r.preview }]));
}

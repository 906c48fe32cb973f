// Audit exports: every call matching a filter, oldest first, read from llm_calls FINAL in
// bounded keyset pages, so an export of any size holds one page in memory at a time and
// every value stays a typed parameter.
//
// Why pages rather than one streamed query: chDB's in-process connection materializes a
// query's whole result before `@clickhouse/client` sees it, and its native streaming API
// (`connection.chdb.queryStream`) takes no bound parameters, so it would need user values
// spliced into SQL. Each page is a primary-key range read (`(started_at, request_id) >
// cursor` on the sorting key), so page N costs what page 1 costs, on both backends.
import { z } from 'zod';
import type { Store } from './client.ts';
import { callWhere, chTime, type ExplorerFilter } from './call-filter.ts';

const Num = z.coerce.number();
const IsoTime = z.string().transform((s) => (s.includes('T') ? s : `${s.replace(' ', 'T')}Z`));

/** What an export holds: the exact bodies and key id/name; no secret exists in llm_calls. */
export const ExportRow = z.object({
  request_id: z.string(),
  started_at: IsoTime,
  trace_id: z.string(),
  session_id: z.string(),
  user: z.string(),
  tags: z.record(z.string(), z.string()),
  key_id: z.string(),
  key_name: z.string(),
  team: z.string(),
  endpoint: z.string(),
  client_api: z.string(),
  requested_model: z.string(),
  provider: z.string(),
  upstream_model: z.string(),
  stream: z.boolean(),
  status: Num,
  outcome: z.string(),
  error_type: z.string(),
  error_message: z.string(),
  finish_reason: z.string(),
  input_tokens: Num,
  output_tokens: Num,
  cached_tokens: Num,
  reasoning_tokens: Num,
  cost_usd: Num.nullable(),
  cache_hit: z.boolean(),
  ttft_ms: Num.nullable(),
  latency_ms: Num,
  overhead_ms: Num,
  attempts: z.array(z.object({ provider: z.string(), model: z.string(), status: Num, error_class: z.string(), latency_ms: Num })),
  request_body: z.string(),
  response_body: z.string(),
  truncated: z.boolean(),
});
export type ExportRow = z.infer<typeof ExportRow>;

export const EXPORT_COLUMNS = Object.keys(ExportRow.shape) as (keyof ExportRow)[];

/** Pages of matching calls, oldest first; stops when the filter is exhausted. */
export async function* exportPages(store: Store, filter: ExplorerFilter, pageRows = 5000): AsyncGenerator<ExportRow[]> {
  const w = callWhere(filter);
  const base = w.sql ? [w.sql.slice('WHERE '.length)] : [];
  let cursor: { t: string; id: string } | undefined;
  for (;;) {
    const conds = [...base];
    const params: Record<string, unknown> = { ...w.params, limit: pageRows };
    if (cursor) {
      conds.push(`(started_at, request_id) > ({c_t:DateTime64(3, 'UTC')}, {c_id:UUID})`);
      params['c_t'] = chTime(cursor.t);
      params['c_id'] = cursor.id;
    }
    const rs = await store.client.query({
      query: `SELECT ${EXPORT_COLUMNS.join(', ')}
              FROM ${store.database}.llm_calls FINAL
              ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
              ORDER BY started_at, request_id
              LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = z.array(ExportRow).parse(await rs.json());
    if (rows.length > 0) yield rows;
    const last = rows[rows.length - 1];
    if (rows.length < pageRows || !last) return;
    cursor = { t: last.started_at, id: last.request_id };
  }
}

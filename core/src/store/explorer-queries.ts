// The requests explorer and the trace/session pages: exact reads of llm_calls FINAL with the
// shared filter, an allow-listed sort and keyset pagination (no OFFSET: page N costs what
// page 1 costs).
import { z } from 'zod';
import type { Store } from './client.ts';
import { CallSummary } from './queries.ts';
import { callWhere, chTime, type ExplorerFilter } from './call-filter.ts';

/** Sort keys a user may pick, mapped to the SQL they stand for (never user text). */
export const SORTS = {
  time: { expr: 'started_at', type: "DateTime64(3, 'UTC')" },
  latency: { expr: 'latency_ms', type: 'Float64' },
  cost: { expr: 'ifNull(cost_usd, -1)', type: 'Float64' },
} as const;
export type SortKey = keyof typeof SORTS;
export type SortDir = 'asc' | 'desc';

export function isSortKey(s: string): s is SortKey {
  return Object.hasOwn(SORTS, s);
}

/** Keyset cursor: the sort value and request id of the last row shown. */
export interface ExplorerCursor {
  /** ISO time for `time`, a number (as text) for `latency` and `cost`. */
  value: string;
  requestId: string;
}

export const ExplorerRow = CallSummary.extend({
  team: z.string(),
  trace_id: z.string(),
  session_id: z.string(),
  cache_hit: z.boolean(),
  error_type: z.string(),
  sort_value: z.union([z.string(), z.number()]).transform(String),
});
export type ExplorerRow = z.infer<typeof ExplorerRow>;

export interface ExplorerPage {
  rows: ExplorerRow[];
  next: ExplorerCursor | undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ROW_COLUMNS = `request_id, started_at, requested_model, provider, upstream_model, key_name, endpoint, stream,
  status, outcome, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms,
  substring(request_body, 1, 200) AS preview, team, trace_id, session_id, cache_hit, error_type`;

export async function listExplorer(
  store: Store,
  filter: ExplorerFilter,
  opts: { sort?: SortKey; dir?: SortDir; after?: ExplorerCursor | undefined; limit?: number } = {},
): Promise<ExplorerPage> {
  const sort = SORTS[opts.sort ?? 'time'];
  const dir = opts.dir === 'asc' ? 'ASC' : 'DESC';
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const w = callWhere(filter);
  const conds = w.sql ? [w.sql.slice('WHERE '.length)] : [];
  const params: Record<string, unknown> = { ...w.params, limit: limit + 1 };
  if (opts.after && UUID_RE.test(opts.after.requestId)) {
    const v = opts.sort === undefined || opts.sort === 'time' ? chTime(opts.after.value) : Number(opts.after.value);
    if (typeof v === 'string' || Number.isFinite(v)) {
      conds.push(`(${sort.expr}, request_id) ${dir === 'DESC' ? '<' : '>'} ({c_v:${sort.type}}, {c_id:UUID})`);
      params['c_v'] = v;
      params['c_id'] = opts.after.requestId;
    }
  }
  const rs = await store.client.query({
    query: `SELECT ${ROW_COLUMNS}, ${sort.expr} AS sort_value
            FROM ${store.database}.llm_calls FINAL
            ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
            ORDER BY ${sort.expr} ${dir}, request_id ${dir}
            LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const all = z.array(ExplorerRow).parse(await rs.json());
  const rows = all.slice(0, limit);
  const last = rows[rows.length - 1];
  const timeSort = opts.sort === undefined || opts.sort === 'time';
  const next = all.length > limit && last ? { value: timeSort ? last.started_at : last.sort_value, requestId: last.request_id } : undefined;
  return { rows, next };
}

/** Every call of a trace or a session, oldest first (bounded), with totals. */
export const ThreadCall = ExplorerRow.omit({ sort_value: true }).extend({ overhead_ms: z.coerce.number() });
export type ThreadCall = z.infer<typeof ThreadCall>;

export async function callsInThread(store: Store, by: 'trace' | 'session', id: string, limit = 1000): Promise<ThreadCall[]> {
  const column = by === 'trace' ? 'trace_id' : 'session_id';
  const rs = await store.client.query({
    query: `SELECT ${ROW_COLUMNS}, overhead_ms
            FROM ${store.database}.llm_calls FINAL
            WHERE ${column} = {id:String}
            ORDER BY started_at, request_id
            LIMIT {limit:UInt32}`,
    query_params: { id, limit },
    format: 'JSONEachRow',
  });
  return z.array(ThreadCall).parse(await rs.json());
}

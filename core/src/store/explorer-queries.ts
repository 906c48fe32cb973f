// The requests explorer and the trace/session pages: exact reads of llm_calls (each call once,
// whatever merges are pending) with the shared filter, an allow-listed sort and keyset
// pagination (no OFFSET: page N costs what page 1 costs).
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { CallSummary } from './queries.ts';
import { callWhere, chTime, type ExplorerFilter } from './call-filter.ts';
import { PREVIEW_SQL, USER_MESSAGES_SQL } from './ui-queries.ts';
import { SPLIT_COLUMNS_SQL, splitPreviews, type SplitPreview, type SplitRow } from './split-previews.ts';
import { instantMs, READ_BOUNDS, ReadParamError } from './read-params.ts';

/** Sort keys a user may pick, mapped to the SQL they stand for (never user text). */
export const SORTS = {
  time: { expr: 'started_at', type: "DateTime64(3, 'UTC')" },
  latency: { expr: 'latency_ms', type: 'Float64' },
  cost: { expr: 'ifNull(cost_usd, -1)', type: 'Float64' },
  key: { expr: 'key_name', type: 'String' },
  user: { expr: 'user', type: 'String' },
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
  key_id: z.string(),
  user: z.string(),
  /** The call this one replays, '' for a client's own (migration 0020). */
  replay_of: z.string().default(''),
  sort_value: z.union([z.string(), z.number()]).transform(String),
  /** The user's own words (ui-queries' PREVIEW_SQL), when the page read them with the row. */
  prompt_preview: z.string().optional(),
});
export type ExplorerRow = z.infer<typeof ExplorerRow>;

export interface ExplorerPage {
  rows: ExplorerRow[];
  next: ExplorerCursor | undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ROW_COLUMNS = `request_id, started_at, requested_model, provider, upstream_model, key_name, endpoint, stream,
  status, outcome, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms,
  substring(request_body, 1, 200) AS preview, team, trace_id, session_id, cache_hit, error_type, key_id, user, replay_of`;

const PageKey = z.object({ request_id: z.string(), started_at: z.string(), sort_value: z.union([z.string(), z.number()]).transform(String) });

/**
 * `(sort, request_id) < (v, id)` spelled so ClickHouse's key analysis sees `sort <= v` on
 * its own: for the time sort that bound prunes parts and granules by the primary key.
 */
function keysetSql(expr: string, type: string, dir: 'ASC' | 'DESC'): string {
  const op = dir === 'DESC' ? '<' : '>';
  return `${expr} ${op}= {c_v:${type}} AND (${expr} ${op} {c_v:${type}} OR request_id ${op} {c_id:UUID})`;
}

const DAY_MS = 86_400_000;

/**
 * Newest-first time windows for a time-descending page: the last day, the six before, then
 * the rest. Most pages fill from the first window, so a filter matching a few percent of the
 * calls (a model, errors, a common word) reads one day of data, not all of it; a rare match
 * costs about one full read, split in three. `top` is the page's upper bound (cursor or the
 * filter's `to`); without one the first window is open above, so calls stamped ahead of this
 * clock are not missed. Each window's SQL uses `{w_*}` parameters; the conditions only
 * narrow the filter, so the union of the windows is exactly the filter's range.
 */
function newestFirstWindows(filter: ExplorerFilter, top: string | undefined): { sql: string[]; params: Record<string, unknown> }[] {
  // Edges from the clock are rounded up to the hour, so the same search repeated within the
  // hour has the same predicate and ClickHouse's query condition cache can skip what it read.
  const upper = top ? Date.parse(top) : Math.ceil(Date.now() / 3_600_000) * 3_600_000;
  const lower = filter.from ? Date.parse(filter.from) : -Infinity;
  const edges = [upper - DAY_MS, upper - 7 * DAY_MS].filter((t) => t > lower);
  if (edges.length === 0 || !Number.isFinite(upper)) return [{ sql: [], params: {} }];
  const at = (t: number): string => chTime(new Date(t).toISOString());
  const params = Object.fromEntries(edges.map((t, i) => [`w_${i}`, at(t)]));
  const ge = (i: number): string => `started_at >= {w_${i}:DateTime64(3, 'UTC')}`;
  const lt = (i: number): string => `started_at < {w_${i}:DateTime64(3, 'UTC')}`;
  return [
    { sql: [ge(0)], params },
    ...edges.slice(1).map((_, i) => ({ sql: [lt(i), ge(i + 1)], params })),
    { sql: [lt(edges.length - 1)], params },
  ];
}

export async function listExplorer(
  store: Store,
  filter: ExplorerFilter,
  opts: { sort?: SortKey; dir?: SortDir; after?: ExplorerCursor | undefined; limit?: number } = {},
): Promise<ExplorerPage> {
  const timeSort = opts.sort === undefined || opts.sort === 'time';
  const sort = SORTS[opts.sort ?? 'time'];
  const dir = opts.dir === 'asc' ? 'ASC' : 'DESC';
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const w = callWhere(filter, 'f_', store.database);
  const conds = w.sql ? [w.sql.slice('WHERE '.length)] : [];
  const fetchRows = 2 * (limit + 1);
  const params: Record<string, unknown> = { ...w.params, limit: fetchRows };
  if (opts.after && UUID_RE.test(opts.after.requestId)) {
    const textSort = sort.type === 'String';
    const ok = timeSort ? Number.isFinite(instantMs(opts.after.value)) : textSort ? opts.after.value.length <= READ_BOUNDS.maxText : Math.abs(Number(opts.after.value)) <= READ_BOUNDS.maxAmount;
    if (!ok) throw new ReadParamError('before', `Query parameter before holds a ${timeSort ? 'time' : 'value'} out of range.`);
    const v = timeSort || textSort ? (timeSort ? chTime(opts.after.value) : opts.after.value) : Number(opts.after.value);
    if (typeof v === 'string' || Number.isFinite(v)) {
      conds.push(keysetSql(sort.expr, sort.type, dir));
      params['c_v'] = v;
      params['c_id'] = opts.after.requestId;
    }
  }
  // Two steps, so the bodies (most of the table's bytes) are read for the page's rows only:
  // first the page's keys, reading just the filter's and the sort's columns (in the table's
  // order for the time sort, which lets ClickHouse stop after the first granules); then the
  // displayed columns of those rows, found by time range and id. No FINAL (it merges every
  // part's key ranges, ~3 s at 10M calls): a duplicate (a replayed insert not merged yet) has
  // the same sort value and id, so it sits next to its twin and is dropped here. The keys are
  // over-fetched for that rather than LIMIT 1 BY, which would turn the top-N into a full sort.
  const order = timeSort ? `toDate(started_at) ${dir}, started_at ${dir}, request_id ${dir}` : `${sort.expr} ${dir}, request_id ${dir}`;
  const keysQuery = async (extra: string[], want: number): Promise<z.infer<typeof PageKey>[]> => {
    const all = [...conds, ...extra];
    const where = all.length ? `WHERE ${all.join(' AND ')}` : '';
    // Value sorts (cost, latency) read the whole range: first find the cut-off from the sort
    // column alone, so the ids and times are read only where a row can make the page.
    const cut = timeSort
      ? ''
      : `${all.length ? 'AND' : 'WHERE'} ${sort.expr} ${dir === 'DESC' ? '>=' : '<='} (
           SELECT ${dir === 'DESC' ? 'min' : 'max'}(v) FROM (SELECT ${sort.expr} AS v FROM ${store.database}.llm_calls ${where} ORDER BY v ${dir} LIMIT {want:UInt32}))`;
    const rs = await readQuery(store, {
      query: `SELECT request_id, started_at, ${sort.expr} AS sort_value
              FROM ${store.database}.llm_calls
              ${where} ${cut}
              ORDER BY ${order}
              LIMIT {want:UInt32}`,
      query_params: { ...params, want },
    });
    return z.array(PageKey).parse(await rs.json());
  };
  const fetched: z.infer<typeof PageKey>[] = [];
  const windows = timeSort && dir === 'DESC' ? newestFirstWindows(filter, opts.after?.value ?? filter.to) : [{ sql: [], params: {} }];
  for (const window of windows) {
    Object.assign(params, window.params);
    fetched.push(...(await keysQuery(window.sql, fetchRows - fetched.length)));
    if (fetched.length >= fetchRows) break;
  }
  const seen = new Set<string>();
  const keys = fetched.filter((k) => !seen.has(k.request_id) && seen.add(k.request_id)).slice(0, limit + 1);
  // More rows may follow when the page is full, or when duplicates filled the over-fetch.
  const more = keys.length > limit || fetched.length === fetchRows;
  if (keys.length === 0) return { rows: [], next: undefined };
  const times = keys.map((k) => k.started_at).sort();
  const rowsRs = await readQuery(store, {
    query: `SELECT ${ROW_COLUMNS}, '' AS sort_value, ${PREVIEW_SQL} AS prompt_preview, split_skeleton, split_parts, split_bytes
            FROM (
              SELECT *, ${USER_MESSAGES_SQL} AS um, ${SPLIT_COLUMNS_SQL}
              FROM ${store.database}.llm_calls
              WHERE started_at BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}
                AND request_id IN {ids:Array(UUID)}
              LIMIT 1 BY request_id
            )`,
    query_params: { from: times[0], to: times[times.length - 1], ids: keys.map((k) => k.request_id), chars: 200 },
  });
  const raw = await rowsRs.json<SplitRow>();
  // A split body's stored text is a skeleton: its preview comes from the body put back together.
  const split = await splitPreviews(store, raw);
  const byId = new Map(z.array(ExplorerRow).parse(raw).map((r) => [r.request_id, { ...r, ...splitOver(split.get(r.request_id)) }]));
  const all = keys.flatMap((k) => {
    const r = byId.get(k.request_id);
    return r ? [{ ...r, sort_value: k.sort_value }] : [];
  });
  const rows = all.slice(0, limit);
  const last = rows[rows.length - 1];
  const next = more && last ? { value: timeSort ? last.started_at : last.sort_value, requestId: last.request_id } : undefined;
  return { rows, next };
}

/** A split row's preview and body prefix, read from its body put back together. */
const splitOver = (s: SplitPreview | undefined): Partial<ExplorerRow> => (s ? { prompt_preview: s.preview, preview: s.prefix } : {});

/** Every call of a trace or a session, oldest first (bounded), with totals. */
export const ThreadCall = ExplorerRow.omit({ sort_value: true }).extend({ overhead_ms: z.coerce.number() });
export type ThreadCall = z.infer<typeof ThreadCall>;

/** A trace's or session's calls, oldest first; `teams` keeps a team-scoped reader's only (ids are client-chosen and shared across teams). */
export async function callsInThread(store: Store, by: 'trace' | 'session', id: string, opts: { limit?: number; teams?: readonly string[] | undefined } = {}): Promise<ThreadCall[]> {
  const column = by === 'trace' ? 'trace_id' : 'session_id';
  const scoped = opts.teams !== undefined && opts.teams.length > 0;
  const rs = await readQuery(store, {
    query: `SELECT ${ROW_COLUMNS}, overhead_ms
            FROM ${store.database}.llm_calls FINAL
            WHERE ${column} = {id:String}${scoped ? ' AND team IN {teams:Array(String)}' : ''}
            ORDER BY started_at, request_id
            LIMIT {limit:UInt32}`,
    query_params: { id, limit: opts.limit ?? 1000, ...(scoped ? { teams: [...(opts.teams ?? [])] } : {}) },
  });
  return z.array(ThreadCall).parse(await rs.json());
}

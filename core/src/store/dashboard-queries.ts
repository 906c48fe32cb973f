// Spend and latency dashboards: read only the rollups, never the raw table. Whole hours come
// from llm_calls_1h / llm_calls_latency_1h (migration 0007) and the minutes at a range's ends
// from llm_calls_1m (0003), so a 30-day view over 10 million calls reads ~100k (spend) or
// ~6k (latency) rows instead of ~3 million, with the same result. Percentiles are merged t-digest states, computed in ClickHouse.
import { z } from 'zod';
import { ChTime, Num } from './row-types.ts';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { chTime } from './call-filter.ts';

/** Dimensions a chart may be split by, mapped to fixed SQL (never user text). */
export const SPEND_GROUPS = {
  model: 'model',
  provider: 'provider',
  key: "if(key_name != '', key_name, key_id)",
  team: 'team',
} as const;
export type SpendGroup = keyof typeof SPEND_GROUPS;

export const LATENCY_GROUPS = { model: 'model', provider: 'provider' } as const;
export type LatencyGroup = keyof typeof LATENCY_GROUPS;

export interface RangeQuery {
  /** UTC ISO bounds: from inclusive, to exclusive. */
  from: string;
  to: string;
  /** Bucket width in seconds (a multiple of 60; the rollup grain is one minute). */
  bucketSeconds: number;
  /** A team-scoped reader: only these teams' rows (latency then reads the minute rollup: the hourly latency rollup has no team). */
  teams?: readonly string[] | undefined;
}

/** Percentile arrays: NaN/null when a bucket had no value (e.g. no streamed call for TTFT). */
const Quantiles = z.array(z.union([z.number(), z.null(), z.string()]).transform((v) => {
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
}));

function bucketSeconds(b: number): number {
  return Math.max(60, Math.round(b / 60) * 60);
}

const RANGE_WHERE = `minute >= toStartOfMinute({from:DateTime64(3, 'UTC')}) AND minute < {to:DateTime64(3, 'UTC')}`;
const HOUR_MS = 3_600_000;

/**
 * The rollup rows of [from, to) as one subquery with a `minute` column: the hours wholly
 * inside the range from an hourly rollup, the rest from llm_calls_1m. Hourly rows are used only
 * when every bucket is whole hours (bucket width a multiple of 3600 s, epoch-aligned), so no
 * hour row straddles two buckets. Binds {from}, {to}, and {h_from}, {h_to} when it adds them.
 */
export function rollupSource(db: string, hourly: 'llm_calls_1h' | 'llm_calls_latency_1h', q: { from: string; to: string; teams?: readonly string[] | undefined }, columns: string, bucket: number | undefined, params: Record<string, unknown>): string {
  const scope = q.teams?.length ? ' AND team IN {teams:Array(String)}' : '';
  if (scope) params['teams'] = [...(q.teams ?? [])];
  const minutes = `SELECT minute, ${columns} FROM ${db}.llm_calls_1m WHERE ${RANGE_WHERE}${scope}`;
  const fromMs = Math.floor(Date.parse(q.from) / 60_000) * 60_000;
  const hFrom = Math.ceil(fromMs / HOUR_MS) * HOUR_MS;
  const hTo = Math.floor(Date.parse(q.to) / HOUR_MS) * HOUR_MS;
  const noTeamColumn = scope !== '' && hourly === 'llm_calls_latency_1h';
  if (noTeamColumn || (bucket !== undefined && bucket % 3600 !== 0) || !(hFrom < hTo)) return `(${minutes})`;
  params['h_from'] = chTime(new Date(hFrom).toISOString()).slice(0, 19);
  params['h_to'] = chTime(new Date(hTo).toISOString()).slice(0, 19);
  const inHours = `minute >= {h_from:DateTime('UTC')} AND minute < {h_to:DateTime('UTC')}`;
  return `(SELECT hour AS minute, ${columns} FROM ${db}.${hourly} WHERE hour >= {h_from:DateTime('UTC')} AND hour < {h_to:DateTime('UTC')}${scope}
           UNION ALL ${minutes} AND NOT (${inHours}))`;
}

const SPEND_COLUMNS = 'model, provider, team, key_id, key_name, calls, errors, input_tokens, output_tokens, cost_usd, unpriced';
const LATENCY_COLUMNS = 'model, provider, calls, errors, latency_q, ttft_q';

const BUCKET_SQL = `toDateTime(intDiv(toUInt32(minute), {bucket:UInt32}) * {bucket:UInt32}, 'UTC')`;

export const SpendPoint = z.object({ bucket: ChTime, grp: z.string(), cost_usd: Num, calls: Num });
export type SpendPoint = z.infer<typeof SpendPoint>;

export async function spendSeries(store: Store, q: RangeQuery & { by: SpendGroup }): Promise<SpendPoint[]> {
  const bucket = bucketSeconds(q.bucketSeconds);
  const params: Record<string, unknown> = { from: chTime(q.from), to: chTime(q.to), bucket };
  const rs = await readQuery(store, {
    query: `SELECT ${BUCKET_SQL} AS bucket, ${SPEND_GROUPS[q.by]} AS grp, sum(cost_usd) AS cost_usd, sum(calls) AS calls
            FROM ${rollupSource(store.database, 'llm_calls_1h', q, SPEND_COLUMNS, bucket, params)}
            GROUP BY bucket, grp
            ORDER BY bucket, grp`,
    query_params: params,
  });
  return z.array(SpendPoint).parse(await rs.json());
}

export const SpendTotal = z.object({
  grp: z.string(),
  cost_usd: Num,
  calls: Num,
  errors: Num,
  input_tokens: Num,
  output_tokens: Num,
  unpriced: Num,
});
export type SpendTotal = z.infer<typeof SpendTotal>;

/** Top spenders over the range for one dimension. */
export async function spendTop(store: Store, q: Omit<RangeQuery, 'bucketSeconds'> & { by: SpendGroup; limit?: number }): Promise<SpendTotal[]> {
  const params: Record<string, unknown> = { from: chTime(q.from), to: chTime(q.to), limit: Math.min(Math.max(q.limit ?? 10, 1), 100) };
  const rs = await readQuery(store, {
    query: `SELECT ${SPEND_GROUPS[q.by]} AS grp, sum(cost_usd) AS cost_usd, sum(calls) AS calls, sum(errors) AS errors,
                   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(unpriced) AS unpriced
            FROM ${rollupSource(store.database, 'llm_calls_1h', q, SPEND_COLUMNS, undefined, params)}
            GROUP BY grp
            ORDER BY cost_usd DESC, calls DESC, grp
            LIMIT {limit:UInt32}`,
    query_params: params,
  });
  return z.array(SpendTotal).parse(await rs.json());
}

export const LatencyPoint = z.object({
  bucket: ChTime,
  grp: z.string(),
  calls: Num,
  errors: Num,
  latency: Quantiles,
  ttft: Quantiles,
});
export type LatencyPoint = z.infer<typeof LatencyPoint>;

const LATENCY_AGGS = `sum(calls) AS calls, sum(errors) AS errors,
  quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_q) AS latency,
  quantilesTDigestMerge(0.5, 0.95, 0.99)(ttft_q) AS ttft`;

/** p50/p95/p99 of latency and TTFT, calls and errors, per bucket and model or provider. */
export async function latencySeries(store: Store, q: RangeQuery & { by: LatencyGroup }): Promise<LatencyPoint[]> {
  const bucket = bucketSeconds(q.bucketSeconds);
  const params: Record<string, unknown> = { from: chTime(q.from), to: chTime(q.to), bucket };
  const rs = await readQuery(store, {
    query: `SELECT ${BUCKET_SQL} AS bucket, ${LATENCY_GROUPS[q.by]} AS grp, ${LATENCY_AGGS}
            FROM ${rollupSource(store.database, 'llm_calls_latency_1h', q, LATENCY_COLUMNS, bucket, params)}
            GROUP BY bucket, grp
            ORDER BY bucket, grp`,
    query_params: params,
  });
  return z.array(LatencyPoint).parse(await rs.json());
}

export const LatencyTotal = LatencyPoint.omit({ bucket: true });
export type LatencyTotal = z.infer<typeof LatencyTotal>;

/** The same percentiles over the whole range, one row per model or provider. */
export async function latencyTotals(store: Store, q: Omit<RangeQuery, 'bucketSeconds'> & { by: LatencyGroup }): Promise<LatencyTotal[]> {
  const params: Record<string, unknown> = { from: chTime(q.from), to: chTime(q.to) };
  const rs = await readQuery(store, {
    query: `SELECT ${LATENCY_GROUPS[q.by]} AS grp, ${LATENCY_AGGS}
            FROM ${rollupSource(store.database, 'llm_calls_latency_1h', q, LATENCY_COLUMNS, undefined, params)}
            GROUP BY grp
            ORDER BY calls DESC, grp
            LIMIT 100`,
    query_params: params,
  });
  return z.array(LatencyTotal).parse(await rs.json());
}

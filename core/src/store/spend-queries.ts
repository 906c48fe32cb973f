// Spend by the dimensions the rollups do not carry (user, a tag's value), the rows behind a
// spike's decomposition, and month-to-date spend per key and team. The rollups (1m/1h) have
// model, provider, team and key, so those go through dashboard-queries.ts; user and tags exist
// only on llm_calls, read here with a range prefilter on started_at (the table's sorting key
// begins with toDate(started_at), started_at, so a range reads only its granules). Like the
// rollups, these sums read without FINAL: a replayed batch may count twice (see 0003).
import { z } from 'zod';
import { Num } from './row-types.ts';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { chTime, IS_ERROR_SQL } from './call-filter.ts';
import { READ_BOUNDS } from './read-params.ts';
import { rollupSource, SpendPoint, SpendTotal } from './dashboard-queries.ts';

/** Dimensions read from llm_calls; `tag` groups by the value of the tag named `tagKey`. */
export const RAW_SPEND_GROUPS = { user: 'user', tag: 'tags[{tag_key:String}]' } as const;
export type RawSpendGroup = keyof typeof RAW_SPEND_GROUPS;

/** Groups drawn on one chart; the rest are summed as `(other)`. */
export const MAX_CHART_GROUPS = 12;
export const OTHER = '(other)';

interface RawQuery {
  from: string;
  to: string;
  teams?: readonly string[] | undefined;
  by: RawSpendGroup;
  /** The tag whose values are the groups (by = 'tag'). */
  tagKey?: string | undefined;
}

function rawWhere(q: { from: string; to: string; teams?: readonly string[] | undefined }, params: Record<string, unknown>): string {
  params['from'] = chTime(q.from);
  params['to'] = chTime(q.to);
  let scope = '';
  if (q.teams?.length) {
    params['teams'] = [...q.teams];
    scope = ' AND team IN {teams:Array(String)}';
  }
  return `started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}${scope}`;
}

function groupSql(q: RawQuery, params: Record<string, unknown>): string {
  if (q.by === 'tag') params['tag_key'] = (q.tagKey ?? '').slice(0, READ_BOUNDS.maxText);
  return RAW_SPEND_GROUPS[q.by];
}

/** Cost and calls per bucket and user (or tag value): the top MAX_CHART_GROUPS - 1 by cost, the rest as `(other)`. */
export async function rawSpendSeries(store: Store, q: RawQuery & { bucketSeconds: number }): Promise<SpendPoint[]> {
  const params: Record<string, unknown> = { bucket: Math.max(60, Math.round(q.bucketSeconds / 60) * 60), top: MAX_CHART_GROUPS - 1, other: OTHER };
  const where = rawWhere(q, params);
  const grp = groupSql(q, params);
  const rs = await readQuery(store, {
    query: `WITH top AS (SELECT ${grp} AS g FROM ${store.database}.llm_calls WHERE ${where} GROUP BY g ORDER BY sum(ifNull(cost_usd, 0)) DESC, g LIMIT {top:UInt32})
            SELECT toDateTime(intDiv(toUInt32(toDateTime(started_at)), {bucket:UInt32}) * {bucket:UInt32}, 'UTC') AS bucket,
                   if(${grp} IN top, ${grp}, {other:String}) AS grp, sum(ifNull(cost_usd, 0)) AS cost_usd, count() AS calls
            FROM ${store.database}.llm_calls WHERE ${where}
            GROUP BY bucket, grp ORDER BY bucket, grp`,
    query_params: params,
  });
  return z.array(SpendPoint).parse(await rs.json());
}

/** Top spenders by user (or tag value) over the range. */
export async function rawSpendTop(store: Store, q: RawQuery & { limit?: number }): Promise<SpendTotal[]> {
  const params: Record<string, unknown> = { limit: Math.min(Math.max(q.limit ?? 10, 1), 100) };
  const where = rawWhere(q, params);
  const rs = await readQuery(store, {
    // Inputs renamed in a subquery so no aggregate's alias shadows the column it reads.
    query: `SELECT grp, sum(ifNull(c, 0)) AS cost_usd, count() AS calls, countIf(is_error) AS errors,
                   sum(i) AS input_tokens, sum(o) AS output_tokens, countIf(c IS NULL) AS unpriced
            FROM (SELECT ${groupSql(q, params)} AS grp, cost_usd AS c, input_tokens AS i, output_tokens AS o, ${IS_ERROR_SQL} AS is_error
                  FROM ${store.database}.llm_calls WHERE ${where})
            GROUP BY grp ORDER BY cost_usd DESC, calls DESC, grp LIMIT {limit:UInt32}`,
    query_params: params,
  });
  return z.array(SpendTotal).parse(await rs.json());
}

/** Tag keys seen in the range, most used first (the tag picker's choices). */
export async function tagKeys(store: Store, q: { from: string; to: string; teams?: readonly string[] | undefined }): Promise<string[]> {
  const params: Record<string, unknown> = {};
  const rs = await readQuery(store, {
    query: `SELECT arrayJoin(mapKeys(tags)) AS k FROM ${store.database}.llm_calls WHERE ${rawWhere(q, params)}
            GROUP BY k ORDER BY count() DESC, k LIMIT 50`,
    query_params: params,
  });
  return z.array(z.object({ k: z.string() })).parse(await rs.json()).map((r) => r.k);
}

export const BREAKDOWN_DIMS = ['model', 'provider', 'key', 'team', 'user', 'tag'] as const;
export type BreakdownDim = (typeof BREAKDOWN_DIMS)[number];

export const BreakdownRow = z.object({
  side: z.enum(['before', 'after']),
  dim: z.enum(BREAKDOWN_DIMS),
  value: z.string(),
  model: z.string(),
  calls: Num,
  cost: Num,
  billable: Num,
  inTokens: Num,
  outTokens: Num,
  errors: Num,
  retried: Num,
  retriedCost: Num,
  errorCost: Num,
});
export type BreakdownRow = z.infer<typeof BreakdownRow>;

/** Rows past this are dropped (a dimension with that many values in one window is noise). */
export const MAX_BREAKDOWN_ROWS = 50_000;

/**
 * The aggregates behind a spike's decomposition: per side (baseline `[baseFrom, at)`, spike
 * `[at, to)`), dimension, value and model. One read of the window: calls are first summed at
 * the finest grain (side, model, provider, key, team, user, tag value), which is far fewer rows
 * than calls, and those sums are fanned out to one row per dimension (ARRAY JOIN) and summed
 * again, so every dimension comes from the same read (a 30-day view's 12-hour spike with its
 * 6-day baseline: ~230k calls; test/bench/spend-queries.ts).
 */
/** Each dimension as an expression over llm_calls (fixed SQL; the tag's key is a parameter). */
const DIM_SQL: Record<BreakdownDim, string> = {
  model: 'toString(requested_model)',
  provider: 'toString(provider)',
  key: "if(key_name != '', key_name, key_id)",
  team: 'toString(team)',
  user: 'user',
  tag: 'tags[{tag_key:String}]',
};

export async function spikeBreakdown(store: Store, q: {
  baseFrom: string;
  at: string;
  to: string;
  teams?: readonly string[] | undefined;
  tagKey?: string | undefined;
  /** Only the calls of one value of a dimension (the chart series that spiked). */
  focus?: { dim: BreakdownDim; value: string } | undefined;
}): Promise<BreakdownRow[]> {
  const params: Record<string, unknown> = { at: chTime(q.at), max_rows: MAX_BREAKDOWN_ROWS };
  let where = rawWhere({ from: q.baseFrom, to: q.to, teams: q.teams }, params);
  if (q.tagKey) params['tag_key'] = q.tagKey.slice(0, READ_BOUNDS.maxText);
  if (q.focus && (q.focus.dim !== 'tag' || q.tagKey)) {
    params['focus'] = q.focus.value.slice(0, READ_BOUNDS.maxText);
    where += ` AND ${DIM_SQL[q.focus.dim]} = {focus:String}`;
  }
  const dims = [`('model', g_model)`, `('provider', g_provider)`, `('key', g_key)`, `('team', g_team)`, `('user', g_user)`];
  if (q.tagKey) dims.push(`('tag', g_tag)`);
  const cost = 'ifNull(cost_usd, 0)';
  const retried = 'length(attempts) > 1';
  const sums = ['calls', 'cost', 'billable', 'inTokens', 'outTokens', 'errors', 'retried', 'retriedCost', 'errorCost'];
  const rs = await readQuery(store, {
    query: `SELECT side, dv.1 AS dim, dv.2 AS value, g_model AS model, ${sums.map((c) => `sum(s_${c}) AS ${c}`).join(', ')}
            FROM (
              SELECT if(started_at >= {at:DateTime64(3, 'UTC')}, 'after', 'before') AS side, ${DIM_SQL.model} AS g_model,
                     ${DIM_SQL.provider} AS g_provider, ${DIM_SQL.key} AS g_key, ${DIM_SQL.team} AS g_team, ${DIM_SQL.user} AS g_user,
                     ${q.tagKey ? DIM_SQL.tag : "''"} AS g_tag,
                     count() AS s_calls, sum(${cost}) AS s_cost, countIf(NOT cache_hit) AS s_billable,
                     sumIf(input_tokens, NOT cache_hit) AS s_inTokens, sumIf(output_tokens, NOT cache_hit) AS s_outTokens,
                     countIf(${IS_ERROR_SQL}) AS s_errors, countIf(${retried}) AS s_retried,
                     sumIf(${cost}, ${retried}) AS s_retriedCost, sumIf(${cost}, ${IS_ERROR_SQL}) AS s_errorCost
              FROM ${store.database}.llm_calls
              WHERE ${where}
              GROUP BY side, g_model, g_provider, g_key, g_team, g_user, g_tag)
            ARRAY JOIN [${dims.join(', ')}] AS dv
            GROUP BY side, dim, value, model
            ORDER BY cost DESC
            LIMIT {max_rows:UInt32}`,
    query_params: params,
  });
  return z.array(BreakdownRow).parse(await rs.json());
}

export const ScopeCost = z.object({ id: z.string(), name: z.string(), owner_team: z.string(), mtd: Num, recent: Num });
export type ScopeCost = z.infer<typeof ScopeCost>;

/**
 * Spend per key (id, latest name, team) or per team from `monthStart` to `now` (`mtd`) and over
 * `[recentFrom, now)` (`recent`, the run rate's window), from the rollups.
 */
export async function monthSpend(store: Store, q: { scope: 'key' | 'team'; monthStart: string; recentFrom: string; now: string; teams?: readonly string[] | undefined }): Promise<ScopeCost[]> {
  const params: Record<string, unknown> = { recent_from: chTime(q.recentFrom) };
  const src = rollupSource(store.database, 'llm_calls_1h', { from: q.monthStart, to: q.now, teams: q.teams }, 'team, key_id, key_name, cost_usd', 3600, params);
  params['from'] = chTime(q.monthStart);
  params['to'] = chTime(q.now);
  const cols = q.scope === 'key' ? `key_id AS id, argMax(key_name, minute) AS name, toString(any(team)) AS owner_team` : `toString(team) AS id, '' AS name, toString(team) AS owner_team`;
  const rs = await readQuery(store, {
    query: `SELECT ${cols}, sum(cost_usd) AS mtd, sumIf(cost_usd, minute >= {recent_from:DateTime64(3, 'UTC')}) AS recent
            FROM ${src} WHERE ${q.scope === 'key' ? 'key_id' : 'team'} != ''
            GROUP BY id ORDER BY mtd DESC, id LIMIT 500`,
    query_params: params,
  });
  return z.array(ScopeCost).parse(await rs.json());
}

// One filter over llm_calls, shared by the explorer, exports and the spike drill-down, turned
// into a WHERE clause whose every value is a typed `{name:Type}` parameter. Column names are
// fixed strings here; nothing a user typed is ever part of the SQL text.
import { instantMs, READ_BOUNDS, ReadParamError } from './read-params.ts';
import { feedbackFilterSql, type FeedbackFilter } from './feedback-filter.ts';

export interface ExplorerFilter {
  /** UTC ISO-8601 bounds: from inclusive, to exclusive. */
  from?: string | undefined;
  to?: string | undefined;
  model?: string | undefined;
  provider?: string | undefined;
  /** Matches the key id or the key name. */
  key?: string | undefined;
  team?: string | undefined;
  /** A team-scoped person or token: only these teams' calls (empty array = none at all). */
  teams?: readonly string[] | undefined;
  user?: string | undefined;
  status?: 'ok' | 'error' | undefined;
  errorType?: string | undefined;
  cacheHit?: boolean | undefined;
  stream?: boolean | undefined;
  /** true: only replays (POST /admin/replay); false: only clients' own calls (migration 0020). */
  replay?: boolean | undefined;
  tags?: readonly (readonly [string, string])[] | undefined;
  traceId?: string | undefined;
  sessionId?: string | undefined;
  costMin?: number | undefined;
  costMax?: number | undefined;
  latencyMin?: number | undefined;
  latencyMax?: number | undefined;
  /** Case-insensitive search in the request or response body: any substring by default. */
  text?: string | undefined;
  /**
   * With `text`: also require each of its words as a whole word of the body (the text is still
   * matched as a substring). Served by the bodies' full-text indexes even for a rare string such
   * as an order id, which a plain substring search can only find by scanning every body.
   */
  wholeWords?: boolean | undefined;
  /** Calls with current feedback above 0, below 0, any, or none (feedback.ts; needs the database). */
  feedback?: FeedbackFilter | undefined;
}

export interface SqlWhere {
  /** `WHERE …` or the empty string. */
  sql: string;
  params: Record<string, unknown>;
}

/** ClickHouse's DateTime64 text form for an ISO instant (it rejects the `T`/`Z` form). */
export function chTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

/** Text with at least one word for the full-text index (its tokenizer splits on non-alphanumeric ASCII). */
const WORD = /[A-Za-z0-9\u0080-\uffff]/;

/** `%…%` LIKE pattern matching `s` literally (LIKE's own metacharacters escaped). */
export function likeContains(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The definition of an error used everywhere (explorer, rollups, exports). */
export const IS_ERROR_SQL = `(status >= 400 OR outcome = 'error')`;

/**
 * The filter's instants and amounts, checked against READ_BOUNDS before they become parameters:
 * out-of-range values are a client mistake (ReadParamError, a 400), not an engine error.
 */
function checkBounds(f: ExplorerFilter): void {
  for (const [name, v] of [['from', f.from], ['to', f.to]] as const) {
    if (v !== undefined && !Number.isFinite(instantMs(v))) throw new ReadParamError(name, `Query parameter ${name} must be an ISO-8601 UTC time between 2000 and 2100.`);
  }
  const amounts = [['costMin', f.costMin], ['costMax', f.costMax], ['latMin', f.latencyMin], ['latMax', f.latencyMax]] as const;
  for (const [name, v] of amounts) {
    if (v !== undefined && !(Math.abs(v) <= READ_BOUNDS.maxAmount)) throw new ReadParamError(name, `Query parameter ${name} must be a number up to ${READ_BOUNDS.maxAmount}.`);
  }
}

/** Rows at most a body search looks up in llm_blocks (blocks.ts), so one search stays bounded. */
export const BLOCK_SEARCH_LIMIT = 10_000;

/** With `blocksDb` (the database), a body search also finds text that lives in a split body's blocks, and `feedback` can be filtered on. */
export function callWhere(f: ExplorerFilter, prefix = 'f_', blocksDb?: string): SqlWhere {
  checkBounds(f);
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const p = (name: string, type: string, value: unknown): string => {
    params[prefix + name] = value;
    return `{${prefix}${name}:${type}}`;
  };
  if (f.from) where.push(`started_at >= ${p('from', "DateTime64(3, 'UTC')", chTime(f.from))}`);
  if (f.to) where.push(`started_at < ${p('to', "DateTime64(3, 'UTC')", chTime(f.to))}`);
  if (f.model) where.push(`requested_model = ${p('model', 'String', f.model)}`);
  if (f.provider) where.push(`provider = ${p('provider', 'String', f.provider)}`);
  if (f.key) {
    const k = p('key', 'String', f.key);
    where.push(`(key_id = ${k} OR key_name = ${k})`);
  }
  if (f.team) where.push(`team = ${p('team', 'String', f.team)}`);
  // One String parameter per team: every backend binds scalars (arrays are not inlined everywhere).
  if (f.teams) where.push(f.teams.length ? `team IN (${f.teams.map((t, i) => p(`teams${i}`, 'String', t)).join(', ')})` : '0');
  if (f.user) where.push(`user = ${p('user', 'String', f.user)}`);
  if (f.status === 'ok') where.push(`NOT ${IS_ERROR_SQL}`);
  if (f.status === 'error') where.push(IS_ERROR_SQL);
  if (f.errorType) where.push(`error_type = ${p('error_type', 'String', f.errorType)}`);
  if (f.cacheHit !== undefined) where.push(`cache_hit = ${p('cache_hit', 'Bool', f.cacheHit)}`);
  if (f.stream !== undefined) where.push(`stream = ${p('stream', 'Bool', f.stream)}`);
  if (f.replay !== undefined) where.push(f.replay ? "replay_of != ''" : "replay_of = ''");
  (f.tags ?? []).forEach(([k, v], i) => {
    where.push(`tags[${p(`tk${i}`, 'String', k)}] = ${p(`tv${i}`, 'String', v)}`);
  });
  if (f.traceId) {
    // A W3C trace id finds the calls of that trace even where x-gatelog-trace-id named them
    // otherwise (parent_trace_id, migration 0019), and the call whose own span opened it.
    const t = p('trace', 'String', f.traceId);
    const own = /^[0-9a-f]{32}$/.test(f.traceId) ? ` OR request_id = ${p('trace_rid', 'UUID', f.traceId.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'))}` : '';
    where.push(`(trace_id = ${t} OR parent_trace_id = ${t}${own})`);
  }
  if (f.feedback) {
    if (!blocksDb) throw new Error('callWhere: the feedback filter needs the database');
    where.push(feedbackFilterSql(blocksDb, f.feedback));
  }
  if (f.sessionId) where.push(`session_id = ${p('session', 'String', f.sessionId)}`);
  if (f.costMin !== undefined) where.push(`cost_usd >= ${p('cost_min', 'Float64', f.costMin)}`);
  if (f.costMax !== undefined) where.push(`cost_usd <= ${p('cost_max', 'Float64', f.costMax)}`);
  if (f.latencyMin !== undefined) where.push(`latency_ms >= ${p('lat_min', 'Float64', f.latencyMin)}`);
  if (f.latencyMax !== undefined) where.push(`latency_ms <= ${p('lat_max', 'Float64', f.latencyMax)}`);
  if (f.text) {
    // Written against `lowerUTF8(body)`, the expression the bodies' text indexes are built on
    // (migration 0008), so ClickHouse can use them and the result is the same with or without.
    const q = p('text', 'String', likeContains(f.text));
    const like = (col: string): string => `lowerUTF8(${col}) LIKE lowerUTF8(${q})`;
    const inBlocks = (match: (col: string) => string): string => (blocksDb
      ? ` OR hasAny(arrayMap(x -> x.2, request_parts), (SELECT groupArray(hash) FROM (SELECT hash FROM ${blocksDb}.llm_blocks WHERE ${match('body')} LIMIT ${BLOCK_SEARCH_LIMIT})))`
      : '');
    if (f.wholeWords && WORD.test(f.text)) {
      const w = p('words', 'String', f.text);
      const both = (col: string): string => `(hasAllTokens(lowerUTF8(${col}), lowerUTF8(${w})) AND ${like(col)})`;
      where.push(`(${both('request_body')} OR ${both('response_body')}${inBlocks(both)})`);
    } else {
      where.push(`(${like('request_body')} OR ${like('response_body')}${inBlocks(like)})`);
    }
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

// Reading the audit trail: the Audit page and GET /admin/audit (newest first, filtered by
// person, action and time, keyset-paged), and the chain walk `gatelog audit verify` reads
// (oldest first per chain, every column). Every value is a bound parameter.
//
// A team-scoped reader (an auditor with teams, `AuditFilter.teams`) sees the rows about its
// teams and its teams' people, as a team admin of LiteLLM or Portkey would expect:
//   - rows about a subject of its teams: a key that is or was in one of them (any version, so
//     both sides of a move see it), a person or machine token whose teams (any version) include
//     one of them (person.*, token.*, their sign-ins; for a person since deleted, the teams their
//     person.erase row recorded), a call of its teams (call.view), a trace
//     or session view that showed one of its teams' calls;
//   - every action of a person or machine token whose whole team scope, when the row was
//     written, lay inside the reader's teams (their searches, exports, views…).
// Everything else stays out: actions of unscoped people, the master key and gatelog itself
// (searches across all teams, settings, chain opens), and other teams' subjects. The rows
// carry no team column (their hash format is fixed), so the rule is answered from the keys,
// people, tokens and calls they name.
import { z } from 'zod';
import type { Store } from './client.ts';
import { chTime } from './call-filter.ts';
import { neutralizedSql } from './export-queries.ts';
import { AUDIT_COLUMNS, AuditRow } from './audit.ts';

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  /** UTC ISO bounds: from inclusive, to exclusive. */
  from?: string | undefined;
  to?: string | undefined;
  /** The `export_id` an export.run row carries (what `gatelog export verify --url` looks up). */
  exportId?: string | undefined;
  /** A team-scoped reader's teams: only the rows about them (see the top of this file). Empty or absent: every row. */
  teams?: readonly string[] | undefined;
}

function auditWhere(f: AuditFilter): { conds: string[]; params: Record<string, unknown> } {
  const conds: string[] = [];
  const params: Record<string, unknown> = {};
  if (f.actor) {
    conds.push('actor = {actor:String}');
    params['actor'] = f.actor;
  }
  if (f.action) {
    conds.push('action = {action:String}');
    params['action'] = f.action;
  }
  if (f.exportId) {
    conds.push(`JSONExtractString(details, 'export_id') = {export_id:String}`);
    params['export_id'] = f.exportId;
  }
  if (f.from) {
    conds.push(`at >= {from:DateTime64(3, 'UTC')}`);
    params['from'] = chTime(f.from);
  }
  if (f.to) {
    conds.push(`at < {to:DateTime64(3, 'UTC')}`);
    params['to'] = chTime(f.to);
  }
  return { conds, params };
}

/**
 * `SELECT {select} FROM` the trail `WHERE` the filter (and, for a team-scoped reader, its
 * scope), followed by `tail`. For a scoped reader each row is joined with the version of its
 * actor (a person by email, a token as `token:<name>`) in force when the row was written.
 */
function auditSql(store: Store, f: AuditFilter, select: string, extra: string[], tail: string): { query: string; params: Record<string, unknown> } {
  const { conds, params } = auditWhere(f);
  conds.push(...extra);
  const db = store.database;
  if (!f.teams?.length) {
    return { query: `SELECT ${select} FROM ${db}.admin_audit ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ${tail}`, params };
  }
  params['scope_teams'] = [...f.teams];
  const T = '{scope_teams:Array(String)}';
  const scope = `(
      (notEmpty(v.actor_teams) AND hasAll(${T}, v.actor_teams))
      OR (a.target_type = 'key' AND a.target IN (SELECT id FROM ${db}.keys WHERE team IN ${T}))
      OR (a.target_type IN ('person', 'account') AND a.target IN (SELECT id FROM ${db}.ui_users WHERE hasAny(teams, ${T})))
      OR (a.target_type = 'person' AND a.target IN (SELECT target FROM ${db}.admin_audit WHERE action = 'person.erase' AND hasAny(JSONExtract(details, 'teams', 'Array(String)'), ${T})))
      OR (a.target_type = 'token' AND a.target IN (SELECT id FROM ${db}.api_tokens WHERE hasAny(teams, ${T})))
      OR (a.target_type = 'call' AND has(scoped_calls, a.target))
      OR (a.target_type IN ('trace', 'session') AND hasAny(JSONExtract(a.details, 'calls', 'Array(String)'), scoped_calls))
    )`;
  // The reader's teams' calls among those the trail names (call views, trace and session views).
  const scopedCalls = `(SELECT groupArray(toString(request_id)) FROM ${db}.llm_calls
      WHERE team IN ${T} AND request_id IN (
        SELECT toUUIDOrZero(c) FROM ${db}.admin_audit
        ARRAY JOIN arrayPushFront(JSONExtract(details, 'calls', 'Array(String)'), target) AS c
        WHERE target_type IN ('call', 'trace', 'session')))`;
  // A token is named in the trail as `token:<name>`, and names need not be unique: a name two
  // tokens share matches neither (their rows show through their targets only), so a token
  // named like another team's cannot pass that one's actions off as its own team's.
  const actors = `(SELECT email AS actor_name, updated_at AS actor_since, teams AS actor_teams FROM ${db}.ui_users
      UNION ALL SELECT concat('token:', name), updated_at, teams FROM ${db}.api_tokens
        WHERE name IN (SELECT name FROM ${db}.api_tokens GROUP BY name HAVING uniqExact(id) = 1))`;
  return {
    query: `WITH ${scopedCalls} AS scoped_calls
            SELECT ${select} FROM ${db}.admin_audit AS a
            ASOF LEFT JOIN ${actors} AS v ON a.actor = v.actor_name AND a.at >= v.actor_since
            WHERE ${[...conds, scope].join(' AND ')} ${tail}`,
    params,
  };
}

/** Newest first; `before` is the last row of the previous page ({at, id}). */
export async function listAudit(
  store: Store,
  opts: AuditFilter & { limit?: number | undefined; before?: { at: string; id: string } | undefined } = {},
): Promise<AuditRow[]> {
  const { query, params } = auditSql(store, opts, AUDIT_COLUMNS, opts.before ? [`(at, id) < ({b_at:DateTime64(3, 'UTC')}, {b_id:UUID})`] : [], 'ORDER BY at DESC, id DESC LIMIT {limit:UInt32}');
  params['limit'] = Math.min(Math.max(Math.trunc(opts.limit ?? 100) || 100, 1), 1000);
  if (opts.before) {
    params['b_at'] = chTime(opts.before.at);
    params['b_id'] = opts.before.id;
  }
  const rs = await store.client.query({ query, query_params: params, format: 'JSONEachRow' });
  return z.array(AuditRow).parse(await rs.json());
}

/** The audit columns as exports and the chain walk read them: `at` as ISO text, the rest as stored. */
export function auditSelect(format: 'csv' | 'jsonl'): string {
  return Object.keys(AuditRow.shape).map((c) => {
    if (c === 'at') return `concat(replaceOne(toString(at, 'UTC'), ' ', 'T'), 'Z') AS at`;
    if (format === 'csv' && c !== 'seq' && c !== 'id') return `${neutralizedSql(c)} AS ${c}`;
    return c;
  }).join(', ');
}

const STREAM_SETTINGS = 'prefer_column_name_to_alias = 1, output_format_json_quote_64bit_integers = 0, output_format_csv_crlf_end_of_line = 1';

/**
 * Every matching row, oldest first, as CSV (with a header line; ISO times; formula cells
 * neutralized) or JSON lines, written by ClickHouse (the Audit page's export).
 */
export async function* auditRowsBytes(store: Store, f: AuditFilter, format: 'csv' | 'jsonl', signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { query, params } = auditSql(store, f, auditSelect(format), [], 'ORDER BY at, id');
  if (format === 'csv') yield new TextEncoder().encode(`${AUDIT_COLUMNS.replaceAll(' ', '')}\r\n`);
  yield* store.streamQuery({
    query,
    params,
    format: format === 'csv' ? 'CSV' : 'JSONEachRow',
    settings: STREAM_SETTINGS,
    signal,
  });
}

/** Per chain (parallel arrays), the rows with `after < seq <= through`. */
export interface SeqRange {
  chains: string[];
  after: number[];
  through: number[];
}

/**
 * Every chained row in (chain_id, seq) order, `from` narrowing to rows at or after an instant:
 * one query, sorted once and streamed (keyset pages would sort the table again for each
 * page), yielded in batches of parsed rows.
 */
export async function* chainRows(store: Store, opts: { from?: string | undefined; batchRows?: number; range?: SeqRange } = {}): AsyncGenerator<AuditRow[]> {
  const { conds, params } = auditWhere({ from: opts.from });
  conds.push(`chain_id != ''`);
  if (opts.range) {
    const seqOf = (name: string): string => `arrayElement({${name}:Array(UInt64)}, indexOf({range_chains:Array(String)}, chain_id))`;
    conds.push(`has({range_chains:Array(String)}, chain_id) AND seq > ${seqOf('range_after')} AND seq <= ${seqOf('range_through')}`);
    Object.assign(params, { range_chains: opts.range.chains, range_after: opts.range.after, range_through: opts.range.through });
  }
  const batchRows = opts.batchRows ?? 5000;
  const decoder = new TextDecoder();
  let rest = '';
  let batch: unknown[] = [];
  for await (const chunk of store.streamQuery({
    query: `SELECT ${auditSelect('jsonl')} FROM ${store.database}.admin_audit WHERE ${conds.join(' AND ')} ORDER BY chain_id, seq, id`,
    params,
    format: 'JSONEachRow',
    settings: STREAM_SETTINGS,
  })) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l) batch.push(JSON.parse(l));
    if (batch.length >= batchRows) {
      yield z.array(AuditRow).parse(batch);
      batch = [];
    }
  }
  if (rest) batch.push(JSON.parse(rest));
  if (batch.length) yield z.array(AuditRow).parse(batch);
}

/** Rows without a chain (written before migration 0010), at or after `from` and before `to` when given, but for those `except` selects. */
export async function unchainedCount(store: Store, from?: string, to?: string, except?: { sql: string; params: Record<string, unknown> }): Promise<number> {
  const { conds, params } = auditWhere({ from, to });
  conds.push(`chain_id = ''`);
  if (except) conds.push(`NOT ${except.sql}`);
  const rs = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.admin_audit WHERE ${conds.join(' AND ')}`,
    query_params: { ...params, ...except?.params },
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
}

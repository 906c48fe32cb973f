// The Sessions list: one row per session_id with calls in a time range, newest activity first,
// keyset-paged. Two reads of llm_calls, no rollup: the page's session ids (session_id and
// started_at only, in a window growing back from the newest call until it holds a page), then
// the totals of those ids over the range. Measured at 5 M calls / 250 k sessions: BENCHMARKS.md. A session
// whose calls straddle the range shows the calls inside it. Unmerged duplicates of a replayed
// insert (rare: ingest deduplicates inserts, migration 0005) would count twice until merged.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { chTime, IS_ERROR_SQL } from './call-filter.ts';
import { ChTime, Num } from './row-types.ts';
import { instantMs, READ_BOUNDS, ReadParamError } from './read-params.ts';

/** Agents a session may be filtered by (the `agent` tag the proxy sets, proxy/src/capture/agent-session.ts). */
export const SESSION_AGENTS = ['claude-code', 'codex', 'opencode', 'other'] as const;
export type SessionAgent = (typeof SESSION_AGENTS)[number];

export interface SessionListQuery {
  /** UTC ISO bounds of the calls counted: from inclusive, to exclusive. */
  from: string;
  to: string;
  /** A team-scoped reader: only these teams' calls (empty array = none). */
  teams?: readonly string[] | undefined;
  agent?: SessionAgent | undefined;
  /** Keyset cursor: sessions whose last call is older than this (time, then id). */
  before?: SessionCursor | undefined;
  limit: number;
}

export interface SessionCursor {
  lastAt: string;
  sessionId: string;
}

export const SessionRow = z.object({
  session_id: z.string(),
  calls: Num,
  errors: Num,
  cost_usd: z.union([z.null(), Num]),
  first_at: ChTime,
  last_at: ChTime,
  /** First call's start to the end of the call that finished last, ms. */
  duration_ms: Num,
  input_tokens: Num,
  output_tokens: Num,
  models: z.array(z.string()),
  users: z.array(z.string()),
  keys: z.array(z.string()),
  agent: z.string(),
  /** The session's last call in the range (its prompt preview is the session's). */
  last_request_id: z.string().default(''),
});
export type SessionRow = z.infer<typeof SessionRow>;

export interface SessionPage {
  rows: SessionRow[];
  next: SessionCursor | undefined;
}

/** Most names of each kind shown per session (the session page has them all). */
const MAX_NAMES = 5;

/** `<ISO time with ms>_<session id>`, as encodeSessionCursor writes it; ReadParamError (a 400) otherwise. */
export function parseSessionCursor(v: string | null | undefined): SessionCursor | undefined {
  if (!v) return undefined;
  const t = v.slice(0, 24);
  const id = v.slice(25);
  if (v.length > 25 + READ_BOUNDS.maxText || v[24] !== '_' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(t) || !Number.isFinite(instantMs(t)) || id.length === 0) {
    throw new ReadParamError('before', 'Query parameter before must be <ISO time>_<session id>, as the next-page link gives it.');
  }
  return { lastAt: t, sessionId: id };
}

export const encodeSessionCursor = (c: SessionCursor): string => `${c.lastAt}_${c.sessionId}`;

const PageKey = z.object({ session_id: z.string(), last_at: ChTime });
/** The first window a page's sessions are looked for in, ms before the cursor (or the range's end); ×4 per try. */
const FIRST_WINDOW_MS = 3_600_000;

/**
 * The page's sessions, newest last call first. A session whose last call is at or after W has
 * a call in [W, to), and its last call there is its last in the range; every other session's
 * is before W. So once the window [W, to) holds more sessions than the page needs, they are
 * the page: the common first page reads the last hour's two narrow columns, not the range's.
 */
async function pageKeys(store: Store, q: SessionListQuery, where: readonly string[], params: Record<string, unknown>): Promise<z.infer<typeof PageKey>[]> {
  const lower = Date.parse(q.from);
  const top = q.before ? Date.parse(q.before.lastAt) : Date.parse(q.to);
  let having = '';
  if (q.before) {
    having = `HAVING (last_at, session_id) < ({c_t:DateTime64(3, 'UTC')}, {c_id:String})`;
    params['c_t'] = chTime(q.before.lastAt);
    params['c_id'] = q.before.sessionId;
  }
  for (let w = FIRST_WINDOW_MS; ; w *= 4) {
    const start = Math.max(lower, top - w);
    const rs = await readQuery(store, {
      query: `SELECT session_id, max(started_at) AS last_at
              FROM ${store.database}.llm_calls
              WHERE ${where.join(' AND ')} AND started_at >= {w_from:DateTime64(3, 'UTC')}
              GROUP BY session_id
              ${having}
              ORDER BY last_at DESC, session_id DESC
              LIMIT {limit:UInt32}`,
      query_params: { ...params, w_from: chTime(new Date(start).toISOString()) },
    });
    const keys = z.array(PageKey).parse(await rs.json());
    if (keys.length > q.limit || start <= lower) return keys;
  }
}

export async function listSessions(store: Store, q: SessionListQuery): Promise<SessionPage> {
  const params: Record<string, unknown> = { from: chTime(q.from), to: chTime(q.to), limit: q.limit + 1 };
  const where = [`started_at >= {from:DateTime64(3, 'UTC')}`, `started_at < {to:DateTime64(3, 'UTC')}`, `session_id != ''`];
  if (q.teams) {
    where.push(q.teams.length ? 'team IN {teams:Array(String)}' : '0');
    params['teams'] = [...q.teams];
  }
  if (q.agent) {
    where.push(`tags['agent'] = {agent:String}`);
    params['agent'] = q.agent;
  }
  const keys = await pageKeys(store, q, where, params);
  if (keys.length === 0) return { rows: [], next: undefined };
  // Then the totals of those sessions only, over the whole range (the session_id bloom filter skips the rest).
  const rs = await readQuery(store, {
    query: `SELECT session_id,
                   count() AS calls,
                   countIf(${IS_ERROR_SQL}) AS errors,
                   if(count(cost_usd) = 0, NULL, sum(cost_usd)) AS cost_usd,
                   min(started_at) AS first_at,
                   max(started_at) AS last_at,
                   max(toUnixTimestamp64Milli(started_at) + latency_ms) - toUnixTimestamp64Milli(first_at) AS duration_ms,
                   sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens,
                   groupUniqArray(${MAX_NAMES})(requested_model) AS models,
                   groupUniqArrayIf(${MAX_NAMES})(user, user != '') AS users,
                   groupUniqArrayIf(${MAX_NAMES})(if(key_name != '', key_name, key_id), key_id != '' OR key_name != '') AS keys,
                   anyIf(tags['agent'], tags['agent'] != '') AS agent,
                   toString(argMax(request_id, started_at)) AS last_request_id
            FROM ${store.database}.llm_calls
            WHERE ${where.join(' AND ')} AND session_id IN {ids:Array(String)}
            GROUP BY session_id
            ORDER BY last_at DESC, session_id DESC`,
    query_params: { ...params, ids: keys.map((k) => k.session_id) },
  });
  const all = z.array(SessionRow).parse(await rs.json());
  const rows = all.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return { rows, next: keys.length > q.limit && last ? { lastAt: last.last_at, sessionId: last.session_id } : undefined };
}

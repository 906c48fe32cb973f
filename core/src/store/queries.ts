// Named, parameterized read queries over llm_calls. Values only ever reach SQL as typed
// `{name:Type}` parameters; identifiers come from validated config, never from a user.
import { z } from 'zod';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { restoreBodies } from './blocks.ts';
import { SPLIT_COLUMNS_SQL, splitPreviews, type SplitRow } from './split-previews.ts';
import { ChTime, Num } from './row-types.ts';
import { AttemptIoRow } from './attempt-io-row.ts';
import { instantMs, ReadParamError } from './read-params.ts';

export const CallSummary = z.object({
  request_id: z.string(),
  started_at: ChTime,
  requested_model: z.string(),
  provider: z.string(),
  upstream_model: z.string(),
  key_name: z.string(),
  endpoint: z.string(),
  stream: z.boolean(),
  status: Num,
  outcome: z.string(),
  input_tokens: Num,
  output_tokens: Num,
  cost_usd: Num.nullable(),
  latency_ms: Num,
  ttft_ms: Num.nullable(),
  preview: z.string(),
});
export type CallSummary = z.infer<typeof CallSummary>;

export const CallDetail = z.object({
  request_id: z.string(),
  started_at: ChTime,
  trace_id: z.string(),
  session_id: z.string(),
  user: z.string(),
  tags: z.record(z.string(), z.string()),
  key_id: z.string(),
  key_name: z.string(),
  team: z.string(),
  endpoint: z.string(),
  client_api: z.string(),
  upstream_api: z.string(),
  requested_model: z.string(),
  provider: z.string(),
  deployment_model: z.string(),
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
  cache_creation_tokens: Num,
  reasoning_tokens: Num,
  tokens_estimated: z.boolean(),
  cost_usd: Num.nullable(),
  /** Per-kind token columns, the price table and the last repricing (migration 0015). */
  cache_write_5m_tokens: Num.optional(),
  cache_write_1h_tokens: Num.optional(),
  input_audio_tokens: Num.optional(),
  output_audio_tokens: Num.optional(),
  /** What audio and images calls were billed by beyond tokens (migration 0030). */
  input_image_tokens: Num.optional(),
  audio_seconds: Num.optional(),
  input_characters: Num.optional(),
  images: Num.optional(),
  image_size: z.string().optional(),
  image_quality: z.string().optional(),
  price_version: z.string().optional(),
  repriced_at: z.string().nullable().optional(),
  cache_hit: z.boolean(),
  ttft_ms: Num.nullable(),
  latency_ms: Num,
  overhead_ms: Num,
  attempts: z.array(z.object({ provider: z.string(), model: z.string(), status: Num, error_class: z.string(), latency_ms: Num })),
  request_body: z.string(),
  response_body: z.string(),
  request_bytes: Num,
  response_bytes: Num,
  truncated: z.boolean(),
  /** Placeholders redaction put in the bodies, by type (migration 0011). */
  redactions: z.record(z.string(), Num).default({}),
  /** The caller's W3C trace context: trace id, parent span, flags, tracestate (migration 0019). */
  parent_trace_id: z.string().default(''),
  parent_span_id: z.string().default(''),
  trace_flags: Num.default(0),
  trace_state: z.string().default(''),
  /** Per attempt, what went upstream and came back (migration 0013). */
  attempt_io: z.array(AttemptIoRow).default([]),
  /** The call this one replays, '' for a client's own (migration 0020). */
  replay_of: z.string().default(''),
  /** When each attempt was dispatched, ms after arrival; [] when not recorded (migration 0020). */
  attempt_starts: z.array(Num).default([]),
  gatelog_version: z.string(),
});
export type CallDetail = z.infer<typeof CallDetail>;

export interface CallFilter {
  model?: string | undefined;
  status?: 'ok' | 'error' | undefined;
  key?: string | undefined;
  /** A team-scoped reader: only these teams' calls. */
  teams?: readonly string[] | undefined;
  /** Keyset cursor: rows strictly older than this (started_at ISO, request_id). */
  before?: { startedAt: string; requestId: string } | undefined;
  limit?: number | undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Recent calls, newest first. `previews: false` (a reader without bodies.read, roles.ts
 * `mayReadBodies`) leaves every `preview` empty and never reads the bodies: a preview is the
 * prompt's first words.
 */
export async function listCalls(store: Store, f: CallFilter, opts: { previews: boolean } = { previews: true }): Promise<CallSummary[]> {
  const where: string[] = [];
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ReadParamError('limit', 'Query parameter limit must be a whole number between 1 and 500.');
  const params: Record<string, unknown> = { limit };
  if (f.model) {
    where.push('requested_model = {model:String}');
    params['model'] = f.model;
  }
  if (f.status === 'ok') where.push('status < 400');
  if (f.status === 'error') where.push('status >= 400');
  if (f.key) {
    where.push('(key_name = {key:String} OR key_id = {key:String})');
    params['key'] = f.key;
  }
  if (f.teams?.length) {
    where.push('team IN {teams:Array(String)}');
    params['teams'] = [...f.teams];
  }
  if (f.before && !Number.isFinite(instantMs(f.before.startedAt))) throw new ReadParamError('before', 'Query parameter before holds a time out of range.');
  if (f.before && UUID_RE.test(f.before.requestId)) {
    where.push('(started_at, request_id) < ({bt:DateTime64(3, \'UTC\')}, {bid:UUID})');
    params['bt'] = f.before.startedAt.replace('T', ' ').replace('Z', '');
    params['bid'] = f.before.requestId;
  }
  const rs = await readQuery(store, {
    query: `SELECT request_id, started_at, requested_model, provider, upstream_model, key_name, endpoint, stream,
              status, outcome, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms,
              ${opts.previews ? `substring(request_body, 1, 200) AS preview, ${SPLIT_COLUMNS_SQL}` : `'' AS preview`}
            FROM ${store.database}.llm_calls FINAL
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY started_at DESC, request_id DESC
            LIMIT {limit:UInt32}`,
    query_params: params,
  });
  const raw = await rs.json<SplitRow>();
  // A split body's stored text is a skeleton: its preview is the whole body's first characters.
  const split = opts.previews ? await splitPreviews(store, raw) : new Map<string, { prefix: string }>();
  return z.array(CallSummary).parse(raw).map((r) => {
    const s = split.get(r.request_id);
    return s ? { ...r, preview: s.prefix } : r;
  });
}

/**
 * Where to look for a call first: request ids are UUIDv7, minted when the call started, so
 * the id's millisecond timestamp bounds started_at and the lookup reads a few granules by the
 * primary key instead of probing every part's bloom filter. A margin covers clock steps.
 */
const ID_TIME_MARGIN_MS = 15 * 60_000;
export function idTimeWindow(requestId: string): { from: string; to: string } | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7/i.test(requestId)) return undefined;
  const ms = parseInt(requestId.slice(0, 8) + requestId.slice(9, 13), 16);
  const ch = (t: number): string => new Date(t).toISOString().replace('T', ' ').replace('Z', '');
  return Number.isFinite(ms) && ms > ID_TIME_MARGIN_MS && ms < 8.64e15 - ID_TIME_MARGIN_MS
    ? { from: ch(ms - ID_TIME_MARGIN_MS), to: ch(ms + ID_TIME_MARGIN_MS) }
    : undefined;
}

export async function getCall(store: Store, requestId: string): Promise<CallDetail | null> {
  if (!UUID_RE.test(requestId)) return null;
  const lookup = async (window: { from: string; to: string } | undefined): Promise<CallDetail | null> => {
    const rs = await readQuery(store, {
      query: `SELECT * EXCEPT (schema_version) FROM ${store.database}.llm_calls FINAL
              WHERE request_id = {id:UUID}
              ${window ? `AND started_at BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}` : ''}
              LIMIT 1`,
      query_params: { id: requestId, ...window },
    });
    // A body split into blocks at ingest comes back whole (blocks.ts).
    const rows = await restoreBodies(store, await rs.json());
    return rows.length ? CallDetail.parse(rows[0]) : null;
  };
  // Calls imported with their own ids (or clocks far apart) fall back to the full lookup.
  const window = idTimeWindow(requestId);
  return (window && (await lookup(window))) || lookup(undefined);
}

/** Rows per request id (for tests and audits): >1 would mean a duplicate reached readers. */
export async function countCalls(store: Store): Promise<{ rows: number; distinct: number }> {
  const rs = await store.client.query({
    query: `SELECT count() AS rows, uniqExact(request_id) AS distinct FROM ${store.database}.llm_calls FINAL`,
    format: 'JSONEachRow',
  });
  const [r] = z.array(z.object({ rows: Num, distinct: Num })).parse(await rs.json());
  return r ?? { rows: 0, distinct: 0 };
}

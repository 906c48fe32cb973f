// Repricing: recompute cost_usd of the calls in a time range from their stored token columns
// (and unit columns: audio seconds, speech characters, images; migration 0030) with the
// current price table, and make the spend rollups agree. One function for the admin
// API (and so the CLI); the caller audits the receipt.
//
// - llm_calls: one `ALTER TABLE … UPDATE` mutation (waited for, mutations_sync = 2), not
//   replacement rows: a replacement row would be counted a second time by the rollup views
//   (0003/0007). The new costs reach the mutation through a Join-engine table keyed by
//   request_id (joinGet), so any number of rows costs one mutation. Every row in range is
//   stamped with the price table's version and repriced_at, changed or not.
// - Rollups: for each minute bucket whose total changed, one row of differences (cost, and the
//   unpriced count) is inserted into llm_calls_1m; the views on it carry it into llm_calls_1h and
//   llm_calls_latency_1h (calls 0, empty latency states), so every spend view reads the repriced
//   totals. A negative unpriced difference is written as its UInt64 two's complement: sums of
//   UInt64 wrap, so a bucket's merged total is exact.
// - Calls recorded while a reprice runs: those inserted after its read keep the cost they were
//   recorded with (already from the current price table when this process recorded them).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './client.ts';
import { sqlText } from './retention.ts';
import type { Units } from '../unit-prices.ts';

const DateArg = z.iso.datetime({ offset: true }).or(z.iso.date());

export const RepriceRequest = z.object({
  /** Calls that started at or after this instant (ISO-8601 date or date-time, UTC). */
  from: DateArg,
  /** … and before this one. */
  to: DateArg,
  /** Only calls whose requested, deployment or upstream model is this. */
  model: z.string().min(1).max(256).optional(),
}).strict().refine((r) => toMs(r.from) < toMs(r.to), { message: 'from must be before to', path: ['to'] });
export type RepriceRequest = z.infer<typeof RepriceRequest>;

/** A stored call's pricing inputs, as read for repricing: its tokens and units (migration 0030). */
export interface RepriceRow extends Required<Units> {
  request_id: string;
  minute: string;
  requested_model: string;
  provider: string;
  team: string;
  key_id: string;
  key_name: string;
  deployment_model: string;
  upstream_model: string;
  /** The API the client spoke: audio calls with no tokens have no price (proxy/src/capture/cost.ts). */
  client_api: string;
  /** The API gatelog spoke upstream: `openai.batch` lines are billed at the Batch API's price. */
  upstream_api: string;
  outcome: string;
  cache_hit: boolean;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cache_creation_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  input_audio_tokens: number;
  output_audio_tokens: number;
  cost_usd: number | null;
}

/** The current price of a stored call (null: no price known), by the proxy's pricer. */
export type RowPricer = (row: RepriceRow) => number | null;

export interface RepriceReceipt {
  /** Calls in range (all stamped with price_version and repriced_at). */
  rows: number;
  /** Calls whose cost_usd changed. */
  changed: number;
  before_usd: number;
  after_usd: number;
  /** Calls still without a known price. */
  unpriced: number;
  price_version: string;
  repriced_at: string;
  /** Minute rollup buckets adjusted. */
  buckets: number;
  ms: number;
}

/** Changed rows sent to the Join table per insert. */
const PAGE = 20_000;

function toMs(d: string): number {
  return Date.parse(d.length === 10 ? `${d}T00:00:00Z` : d);
}

const sameCost = (a: number | null, b: number | null): boolean =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a));

interface Bucket {
  minute: string;
  model: string;
  provider: string;
  team: string;
  key_id: string;
  key_name: string;
  cost_usd: number;
  unpriced: number;
}

/** The range (and model) as SQL: whole numbers and hex literals, so no input reaches SQL text (a mutation's WHERE too). */
function rangeWhere(r: RepriceRequest): string {
  const m = r.model !== undefined ? sqlText(r.model) : '';
  return `started_at >= fromUnixTimestamp64Milli(${Math.trunc(toMs(r.from))}, 'UTC') AND started_at < fromUnixTimestamp64Milli(${Math.trunc(toMs(r.to))}, 'UTC')` +
    (m ? ` AND (requested_model = ${m} OR deployment_model = ${m} OR upstream_model = ${m})` : '');
}

const COLUMNS = `toString(request_id) AS request_id, formatDateTime(toStartOfMinute(started_at), '%Y-%m-%d %H:%i:%S', 'UTC') AS minute,
  requested_model, provider, team, key_id, key_name, deployment_model, upstream_model, client_api, upstream_api, outcome, cache_hit,
  input_tokens, output_tokens, cached_tokens, cache_creation_tokens, cache_write_1h_tokens, reasoning_tokens,
  input_audio_tokens, output_audio_tokens, input_image_tokens, audio_seconds, input_characters, images, image_size, image_quality, cost_usd`;

/** Objects of a JSONEachRow byte stream, one per line, as they arrive. */
async function* jsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (nl > start) yield JSON.parse(text.slice(start, nl)) as unknown;
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest.trim()) yield JSON.parse(rest) as unknown;
}

/** Reprice the calls of `r` with `price`, stamping `version`; see the module comment. */
export async function repriceCalls(store: Store, r: RepriceRequest, price: RowPricer, version: string, now: Date = new Date()): Promise<RepriceReceipt> {
  const t0 = performance.now();
  const db = store.database;
  const where = rangeWhere(r);
  const buckets = new Map<string, Bucket>();
  const join = `reprice_${randomUUID().replaceAll('-', '')}`;
  await store.client.command({ query: `CREATE TABLE ${db}.${join} (request_id UUID, found UInt8, cost Nullable(Float64)) ENGINE = Join(ANY, LEFT, request_id)` });
  let pending: string[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length > 0) await store.insertRaw(join, Buffer.from(pending.join('\n')));
    pending = [];
  };
  let rows = 0;
  let changed = 0;
  let before = 0;
  let after = 0;
  let unpriced = 0;
  try {
    // One streamed read (memory bounded by a batch of changes and the buckets, whatever the range).
    for await (const raw of jsonLines(store.streamQuery({ query: `SELECT ${COLUMNS} FROM ${db}.llm_calls FINAL WHERE ${where}`, format: 'JSONEachRow' }))) {
      const row = normalizeRow(raw as RepriceRow);
      const next = price(row);
      rows++;
      before += row.cost_usd ?? 0;
      after += next ?? 0;
      if (next === null) unpriced++;
      if (sameCost(row.cost_usd, next)) continue;
      changed++;
      pending.push(JSON.stringify({ request_id: row.request_id, found: 1, cost: next }));
      if (pending.length >= PAGE) await flush();
      const k = [row.minute, row.requested_model, row.provider, row.team, row.key_id, row.key_name].join('\u0000');
      const b = buckets.get(k) ?? { minute: row.minute, model: row.requested_model, provider: row.provider, team: row.team, key_id: row.key_id, key_name: row.key_name, cost_usd: 0, unpriced: 0 };
      b.cost_usd += (next ?? 0) - (row.cost_usd ?? 0);
      b.unpriced += (next === null ? 1 : 0) - (row.cost_usd === null ? 1 : 0);
      buckets.set(k, b);
    }
    await flush();
    const repricedAt = now.toISOString().replace('T', ' ').replace('Z', '');
    if (rows > 0) await rewrite(store, `${db}.${join}`, where, changed > 0, version, repricedAt);
  } finally {
    await store.client.command({ query: `DROP TABLE IF EXISTS ${db}.${join}` });
  }
  if (buckets.size > 0) await adjustRollups(store, [...buckets.values()]);
  return {
    rows, changed, before_usd: before, after_usd: after, unpriced, price_version: version,
    repriced_at: now.toISOString(), buckets: buckets.size, ms: Math.round(performance.now() - t0),
  };
}

function normalizeRow(raw: RepriceRow): RepriceRow {
  const n = (v: unknown): number => Number(v ?? 0);
  return {
    ...raw,
    cache_hit: raw.cache_hit === true || (raw.cache_hit as unknown) === 1,
    input_tokens: n(raw.input_tokens), output_tokens: n(raw.output_tokens), cached_tokens: n(raw.cached_tokens),
    cache_creation_tokens: n(raw.cache_creation_tokens), cache_write_1h_tokens: n(raw.cache_write_1h_tokens),
    reasoning_tokens: n(raw.reasoning_tokens), input_audio_tokens: n(raw.input_audio_tokens), output_audio_tokens: n(raw.output_audio_tokens),
    input_image_tokens: n(raw.input_image_tokens), audio_seconds: n(raw.audio_seconds), input_characters: n(raw.input_characters), images: n(raw.images),
    image_size: raw.image_size ?? '', image_quality: raw.image_quality ?? '',
    cost_usd: raw.cost_usd === null || raw.cost_usd === undefined ? null : Number(raw.cost_usd),
  };
}

/** New costs through the Join table into one mutation that also stamps every row in range (`found`: a missing key reads 0). */
async function rewrite(store: Store, join: string, where: string, anyChanged: boolean, version: string, repricedAt: string): Promise<void> {
  const cost = anyChanged ? `if(joinGet('${join}', 'found', request_id) = 1, joinGet('${join}', 'cost', request_id), cost_usd)` : 'cost_usd';
  await store.client.command({
    query: `ALTER TABLE ${store.database}.llm_calls UPDATE cost_usd = ${cost}, price_version = ${sqlText(version)},
            repriced_at = toDateTime64(${sqlText(repricedAt)}, 3, 'UTC') WHERE ${where}`,
    // joinGet reads another table: ClickHouse calls that non-deterministic for a mutation.
    clickhouse_settings: { mutations_sync: '2', allow_nondeterministic_mutations: 1 },
  });
}

async function adjustRollups(store: Store, buckets: Bucket[]): Promise<void> {
  const db = store.database;
  const stage = `reprice_delta_${randomUUID().replaceAll('-', '')}`;
  await store.client.command({
    query: `CREATE TABLE ${db}.${stage} (minute DateTime('UTC'), model String, provider String, team String, key_id String, key_name String, cost_usd Float64, unpriced Int64) ENGINE = Memory`,
  });
  try {
    await store.insertRaw(stage, Buffer.from(buckets.map((b) => JSON.stringify(b)).join('\n')));
    await store.client.command({
      query: `INSERT INTO ${db}.llm_calls_1m
              SELECT minute, model, provider, team, key_id, key_name, toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0),
                     sum(cost_usd), toUInt64(sum(unpriced)),
                     quantilesTDigestStateIf(0.5, 0.95, 0.99)(toFloat64(0), false),
                     quantilesTDigestState(0.5, 0.95, 0.99)(CAST(NULL, 'Nullable(Float64)'))
              FROM ${db}.${stage}
              GROUP BY minute, model, provider, team, key_id, key_name`,
    });
  } finally {
    await store.client.command({ query: `DROP TABLE IF EXISTS ${db}.${stage}` });
  }
}

/** Whether calls in [from, to) were repriced, for the spend views: how many, when last, with what (`teams`: a scoped reader's). */
export async function repricedSummary(store: Store, from: Date, to: Date, teams?: readonly string[]): Promise<{ rows: number; last: string | null; versions: string[] }> {
  const rs = await store.client.query({
    query: `SELECT count() AS rows, max(repriced_at) AS last, groupUniqArray(10)(price_version) AS versions
            FROM ${store.database}.llm_calls
            WHERE started_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND started_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
              AND repriced_at IS NOT NULL${teams?.length ? ' AND team IN {teams:Array(String)}' : ''}`,
    query_params: { from: from.getTime(), to: to.getTime(), ...(teams?.length ? { teams: [...teams] } : {}) },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ rows: string | number; last: string | null; versions: string[] }>();
  const rows = Number(r?.rows ?? 0);
  return { rows, last: rows > 0 ? (r?.last ?? null) : null, versions: rows > 0 ? (r?.versions ?? []) : [] };
}

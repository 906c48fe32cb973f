// Generates benchmark calls inside ClickHouse: one `INSERT INTO llm_calls SELECT … FROM
// numbers()` per simulated day, so a 10-million-call store loads in minutes instead of the
// ~25 minutes JS generation + JSONEachRow parsing takes, and the rollup materialized view
// fills exactly as it does for ingest's inserts.
//
// Distributions (all from cityHash64 of the row number, so a load is reproducible):
// - request ids are UUIDv7 carrying the call's start, as the proxy writes them.
// - 30 days; weekdays carry ~1.8× a weekend day's calls; within a day a session starts
//   either uniformly (35%) or around 14:00 UTC (normal, sd 3.5 h): a daily cycle.
// - sessions of 48 call slots (one user, one key); traces of 1–6 calls inside them, seconds
//   apart, sharing a model and streaming mode; 40% of sessions carry no session id.
// - 8 models over 4 providers at list prices (USD per million tokens), popularity-weighted;
//   20 keys in 5 teams; ~1000 users with a skew; lognormal tokens, latency and TTFT.
// - ~2% errors in 5 classes; ~3% cache hits; ~4% of successes retried once after a 429.
// - bodies: request 0.5–3 KB (system prompt + user sentences drawn from a word list, with an
//   order reference like `ORD-1234567` that occurs in very few calls), response 0.2–1.2 KB.
// - seeded spend spikes (SPIKES): one hour in which half the calls move to one model with
//   ~12× the input tokens.
import type { Store } from '../../core/src/index.ts';

export interface GenerateOptions {
  rows: number;
  days: number;
  /** End of the generated span (exclusive), ms since epoch, aligned to a UTC day. */
  endMs: number;
  onDay?: (day: number, rowsSoFar: number) => void;
}

export interface Spike {
  day: number;
  hour: number;
  model: string;
}

export const MODELS = [
  // name, provider, weight, USD / 1M input, USD / 1M output, latency median ms, ms per output token
  ['gpt-4o-mini', 'openai', 0.3, 0.15, 0.6, 450, 8],
  ['gpt-4o', 'openai', 0.14, 2.5, 10, 700, 14],
  ['o3-mini', 'openai', 0.06, 1.1, 4.4, 2500, 10],
  ['claude-sonnet-4', 'anthropic', 0.14, 3, 15, 900, 16],
  ['claude-3-5-haiku', 'anthropic', 0.1, 0.8, 4, 400, 7],
  ['gemini-2.0-flash', 'google', 0.12, 0.1, 0.4, 350, 5],
  ['gemini-1.5-pro', 'google', 0.04, 1.25, 5, 1100, 15],
  ['llama-3.1-70b', 'groq', 0.1, 0.59, 0.79, 200, 3],
] as const;

export const TEAMS = ['search', 'support', 'billing', 'growth', 'platform'] as const;

/** Spend spikes seeded into the data: (day index from the start, UTC hour, model). */
export const SPIKES: Spike[] = [
  { day: 9, hour: 9, model: 'claude-sonnet-4' },
  { day: 19, hour: 15, model: 'gpt-4o' },
  { day: 27, hour: 11, model: 'o3-mini' },
];

const WORDS = `refund invoice shipping order account password billing subscription latency error timeout
customer support ticket escalate summary translate classify extract table report quarterly revenue
forecast churn cohort dashboard deploy kubernetes container database index query migration schema
python typescript function regression test coverage release rollback incident outage pager alert
contract clause liability warranty compliance audit policy retention privacy consent region europe
product catalog search ranking relevance embedding vector chunk document paragraph citation source
meeting agenda notes action owner deadline budget approval vendor purchase payment card declined
address delivery warehouse inventory stock supplier tracking parcel damaged return exchange voucher
please could you explain why how what when where which the a an and or but with without for from
into onto about above below after before during between because therefore however although quickly
carefully briefly exactly politely formally step list bullet json yaml markdown english german french`
  .split(/\s+/)
  .filter(Boolean);

/** Deterministic sentences from the word list (seeded LCG: every load writes the same text). */
export function sentences(count = 256): string[] {
  let seed = 1234567;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  return Array.from({ length: count }, () => {
    const n = 8 + Math.floor(rnd() * 14);
    const words = Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]!);
    const s = words.join(' ');
    return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
  });
}

const SYSTEM_PROMPTS = [
  'You are a helpful assistant.',
  'You are a customer support agent for an online store. Answer politely, cite the order reference, and never promise refunds you cannot approve.',
  'You are a senior software engineer. Review the code the user sends, point out bugs and security problems first, then style. Answer in markdown with short bullet lists.',
  'You classify incoming tickets into one of: billing, shipping, account, technical, other. Answer with a single JSON object {"label": string, "confidence": number} and nothing else.',
  'You summarize long documents for busy executives. Keep the summary under 120 words, lead with the decision that is needed, then the numbers that support it, then risks.',
  'You are a translation engine. Translate the user text into the requested language, preserving formatting, product names and placeholders such as {name} exactly.',
];

/** A SQL string literal (ClickHouse escaping). */
function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
const arr = (xs: readonly (string | number)[]): string => `[${xs.map((x) => (typeof x === 'number' ? String(x) : lit(x))).join(', ')}]`;

/** Calls per day: weekends (by the UTC weekday of each day) get 55% of a weekday's share. */
export function rowsPerDay(rows: number, days: number, endMs: number): number[] {
  const startMs = endMs - days * 86_400_000;
  const w = Array.from({ length: days }, (_, d) => {
    const wd = new Date(startMs + d * 86_400_000).getUTCDay();
    return wd === 0 || wd === 6 ? 0.55 : 1;
  });
  const total = w.reduce((a, b) => a + b, 0);
  const out = w.map((x) => Math.floor((rows * x) / total));
  out[days - 1]! += rows - out.reduce((a, b) => a + b, 0);
  return out;
}

/** The INSERT … SELECT for one day: rows [lo, lo + count) of the whole load. */
export function daySql(db: string, o: { lo: number; count: number; dayStartMs: number; day: number }): string {
  const cum: number[] = [];
  MODELS.reduce((acc, m) => (cum.push(acc + m[2]), acc + m[2]), 0);
  const spikes = SPIKES.filter((s) => s.day === o.day);
  const spikeModel = spikes.length
    ? `multiIf(${spikes.map((s) => `intDiv(tod, 3600) = ${s.hour} AND r_spike < 0.5, ${MODELS.findIndex((m) => m[0] === s.model) + 1}`).join(', ')}, mi0)`
    : 'mi0';
  const spiking = spikes.length ? `(${spikes.map((s) => `intDiv(tod, 3600) = ${s.hour}`).join(' OR ')}) AND r_spike < 0.5` : '0';
  const sents = sentences();
  const S = arr(sents);
  // r(x, k): a uniform in [0, 1) from the hash of (x, k); z(x, k): a standard normal (Box–Muller).
  const r = (x: string, k: number): string => `(cityHash64(${x}, ${k}) / 18446744073709551616.0)`;
  const z = (x: string, k: number): string => `(sqrt(-2 * log(1 - ${r(x, k)})) * cos(2 * pi() * ${r(x, k + 1)}))`;
  return `
INSERT INTO ${db}.llm_calls (schema_version, gatelog_version, request_id, started_at, trace_id, session_id, user, tags,
  key_id, key_name, team, endpoint, client_api, upstream_api, requested_model, provider, deployment_model, upstream_model,
  stream, status, outcome, error_type, error_message, finish_reason, input_tokens, output_tokens, cached_tokens,
  cache_creation_tokens, reasoning_tokens, tokens_estimated, cost_usd, cache_hit, cache_saved_usd, ttft_ms, latency_ms,
  overhead_ms, attempts, request_body, response_body, request_bytes, response_bytes, truncated)
SELECT
  1, 'bench',
  -- UUIDv7 as the proxy writes them: the call's start in ms, then version, variant and random bits
  toUUID(concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(rnd_hex, 1, 3), '-',
    ['8', '9', 'a', 'b'][1 + cityHash64(n, 82) % 4], substring(rnd_hex, 4, 3), '-', substring(rnd_hex, 7, 12))),
  started_at,
  concat('tr_', lower(hex(cityHash64(trace_key, 30)))),
  if(${r('sess', 32)} < 0.4, '', concat('sess_', lower(hex(cityHash64(sess, 31))))),
  user, map('env', if(${r('sess', 33)} < 0.85, 'prod', 'staging'), 'app', ${arr(['web', 'mobile', 'batch', 'agent'])}[1 + cityHash64(sess, 34) % 4]),
  concat('key_', leftPad(toString(ki), 2, '0')), concat(team, '-', leftPad(toString(ki), 2, '0')), team,
  '/v1/chat/completions', 'openai.chat', if(provider = 'anthropic', 'anthropic.messages', 'openai.chat'),
  model, provider, model, model,
  stream, status, if(is_err, 'error', 'success'), error_type, error_message,
  if(is_err, '', if(out_tok >= 4000, 'length', 'stop')),
  in_tok, out_tok, cached, 0, if(mi = 3, toUInt32(out_tok * 0.6), 0), 0,
  cost, cache_hit, if(cache_hit, full_cost, 0),
  if(stream AND NOT is_err, least(ttft, latency), NULL), latency, 0.15 + 0.8 * ${r('n', 60)},
  CAST(multiIf(
    is_err, [tuple(provider, model, status, error_type, latency)],
    retried, [tuple(provider, model, toUInt16(429), 'rate_limit_error', 40 + 60 * ${r('n', 61)}), tuple(provider, model, toUInt16(200), '', latency)],
    [tuple(provider, model, toUInt16(200), '', latency)]
  ), 'Array(Tuple(provider String, model String, status UInt16, error_class String, latency_ms Float64))'),
  request_body, response_body, length(request_body), length(response_body), 0
FROM (
  SELECT *,
    leftPad(lower(hex(toUInt64(toUnixTimestamp64Milli(started_at)))), 12, '0') AS ms_hex,
    concat(leftPad(lower(hex(cityHash64(n, 80))), 16, '0'), leftPad(lower(hex(cityHash64(n, 81))), 16, '0')) AS rnd_hex,
    concat('{"model":"', model, '","messages":[{"role":"system","content":"', sys_prompt,
      '"},{"role":"user","content":"Customer reference ORD-', toString(cityHash64(n, 40) % 10000000), '. ', user_text, '"}]',
      if(stream, ',"stream":true', ''), '}') AS request_body,
    if(is_err,
      concat('{"error":{"message":"', error_message, '","type":"', error_type, '","code":', toString(status), '}}'),
      concat('{"id":"chatcmpl-', lower(hex(cityHash64(n, 41))), '","object":"chat.completion","model":"', model,
        '","choices":[{"index":0,"message":{"role":"assistant","content":"', answer, '"},"finish_reason":"stop"}],',
        '"usage":{"prompt_tokens":', toString(in_tok), ',"completion_tokens":', toString(out_tok), '}}')) AS response_body
  FROM (
    SELECT *,
      ${arr(MODELS.map((m) => m[0]))}[mi] AS model,
      ${arr(MODELS.map((m) => m[1]))}[mi] AS provider,
      toUInt32(if(${spiking}, 12, 1) * least(120000, greatest(20, exp(log(600) + 0.9 * ${z('n', 50)})))) AS in_tok,
      toUInt32(if(is_err, 0, least(8000, greatest(1, exp(log(180) + 0.8 * ${z('n', 52)}))))) AS out_tok,
      toUInt32(if(${r('n', 54)} < 0.2, in_tok / 2, 0)) AS cached,
      (in_tok * ${arr(MODELS.map((m) => m[3]))}[mi] + out_tok * ${arr(MODELS.map((m) => m[4]))}[mi]) / 1e6 AS full_cost,
      if(cache_hit OR is_err, 0, full_cost) AS cost,
      if(cache_hit, 3 + 15 * ${r('n', 55)},
        exp(log(${arr(MODELS.map((m) => m[5]))}[mi]) + 0.5 * ${z('n', 56)}) + out_tok * ${arr(MODELS.map((m) => m[6]))}[mi] * (0.7 + 0.6 * ${r('n', 58)})) AS latency,
      exp(log(${arr(MODELS.map((m) => m[5]))}[mi] * 0.4) + 0.6 * ${z('n', 62)}) AS ttft,
      ${arr(SYSTEM_PROMPTS.map((s) => JSON.stringify(s).slice(1, -1)))}[1 + cityHash64(sess, 70) % ${SYSTEM_PROMPTS.length}] AS sys_prompt,
      arrayStringConcat(arrayMap(i -> ${S}[1 + cityHash64(n, 100 + i) % ${sents.length}], range(toUInt32(3 + floor(pow(${r('n', 71)}, 1.6) * 24)))), ' ') AS user_text,
      arrayStringConcat(arrayMap(i -> ${S}[1 + cityHash64(n, 200 + i) % ${sents.length}], range(toUInt32(1 + floor(${r('n', 72)} * 8)))), ' ') AS answer
    FROM (
      SELECT *,
        if(${spiking}, mi_spike, mi0) AS mi,
        ${spikeModel} AS mi_spike,
        toDateTime64(${o.dayStartMs / 1000} + tod + offset, 3, 'UTC') AS started_at
      FROM (
        SELECT n, sess, g, trace_key, ki, team, user, stream, is_err, status, error_type, error_message, cache_hit, retried,
          arrayFirstIndex(c -> ${r('trace_key', 10)} < c, ${arr(cum.map((c) => c / cum[cum.length - 1]!))}) AS mi0,
          ${r('trace_key', 35)} AS r_spike,
          toUInt32(if(${r('sess', 2)} < 0.35, ${r('sess', 3)} * 86400, 50400 + 12600 * ${z('sess', 4)} + 172800)) % 86400 AS tod0,
          -- traces start minutes apart inside their session, calls seconds apart inside their trace
          (tod0 + (g % 8) * (30 + ${r('g', 6)} * 600) + (n % 6) * (0.5 + 4 * ${r('n', 7)})) AS t_in_day,
          toUInt32(t_in_day) % 86400 AS tod,
          t_in_day - toUInt32(t_in_day) AS offset
        FROM (
          SELECT number AS n, intDiv(n, 48) AS sess, intDiv(n, 6) AS g,
            if(n % 6 < 1 + cityHash64(g, 1) % 6, g, 1000000000000 + n) AS trace_key,
            toUInt32(1 + floor(pow(${r('sess', 11)}, 1.4) * 20)) AS ki,
            ${arr([...TEAMS])}[1 + (ki - 1) % 5] AS team,
            concat('user-', leftPad(toString(toUInt32(floor(pow(${r('sess', 12)}, 2) * 1000))), 4, '0')) AS user,
            ${r('trace_key', 13)} < 0.5 AS stream,
            ${r('n', 20)} < 0.02 AS is_err,
            ${r('n', 21)} AS r_err,
            if(is_err, multiIf(r_err < 0.4, 429, r_err < 0.65, 502, r_err < 0.8, 504, r_err < 0.9, 400, 529), 200) AS status,
            multiIf(NOT is_err, '', status = 429, 'rate_limit_error', status = 502, 'upstream_http_error', status = 504, 'upstream_timeout',
              status = 400, 'invalid_request_error', 'overloaded_error') AS error_type,
            multiIf(NOT is_err, '', status = 429, 'Rate limit reached for requests per minute. Please try again in 20s.',
              status = 502, 'upstream returned 502 Bad Gateway', status = 504, 'upstream did not answer within 60000 ms',
              status = 400, 'This model maximum context length is 128000 tokens. Please reduce the length of the messages.',
              'Overloaded') AS error_message,
            NOT is_err AND ${r('n', 22)} < 0.03 AS cache_hit,
            NOT is_err AND NOT cache_hit AND ${r('n', 23)} < 0.04 AS retried
          FROM numbers_mt(${o.lo}, ${o.count})
        )
      )
    )
  )
)
SETTINGS max_block_size = 65536, max_insert_threads = 2`;
}

/** Loads `rows` calls, one INSERT per day, oldest first; returns the seconds it took. */
export async function generateCalls(store: Store, o: GenerateOptions): Promise<number> {
  const t0 = performance.now();
  const perDay = rowsPerDay(o.rows, o.days, o.endMs);
  const startMs = o.endMs - o.days * 86_400_000;
  let lo = 0;
  for (let d = 0; d < o.days; d++) {
    const count = perDay[d]!;
    await store.client.command({ query: daySql(store.database, { lo, count, dayStartMs: startMs + d * 86_400_000, day: d }) });
    lo += count;
    o.onDay?.(d, lo);
  }
  return (performance.now() - t0) / 1000;
}

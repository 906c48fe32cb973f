-- Hourly rollups for dashboards over days and weeks. At 10 million calls over 30 days the
-- per-minute rollup holds ~2.8 million rows (one per minute, model and key), so a 30-day
-- dashboard merged millions of rows and t-digest states (latency page 3–6 s). Per hour:
-- - llm_calls_1h: the spend counters at the minute rollup's grain (~115k rows for 30 days);
-- - llm_calls_latency_1h: the t-digest states per model and provider only (~6k rows): the
--   latency page never splits by key or team, and the states are most of the bytes.
-- The dashboards read whole hours from these and the partial hours at a range's ends from
-- llm_calls_1m (dashboard-queries.ts), so results are unchanged.
--
-- Fed by views on llm_calls_1m (cascaded from llm_calls_1m_mv), so they see exactly the rows
-- the minute rollup sees, duplicates included (see 0003). Insert cost: two more GROUP BYs of
-- each insert's minute rows (a few rows per batch of calls).
CREATE TABLE IF NOT EXISTS {db}.llm_calls_1h
(
    hour DateTime('UTC'),
    model LowCardinality(String),
    provider LowCardinality(String),
    team LowCardinality(String),
    key_id String,
    key_name String,
    calls SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    unpriced SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, model, provider, team, key_id, key_name);

CREATE TABLE IF NOT EXISTS {db}.llm_calls_latency_1h
(
    hour DateTime('UTC'),
    model LowCardinality(String),
    provider LowCardinality(String),
    calls SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    latency_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    ttft_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, model, provider);

-- Inputs renamed (m_*), so no aggregate's alias shadows the column it aggregates (as in 0003).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.llm_calls_1h_mv TO {db}.llm_calls_1h AS
SELECT toStartOfHour(m_minute) AS hour, model, provider, team, key_id, key_name,
       sum(m_calls) AS calls, sum(m_errors) AS errors, sum(m_input_tokens) AS input_tokens,
       sum(m_output_tokens) AS output_tokens, sum(m_cost_usd) AS cost_usd, sum(m_unpriced) AS unpriced
FROM
(
    SELECT minute AS m_minute, model, provider, team, key_id, key_name, calls AS m_calls, errors AS m_errors,
           input_tokens AS m_input_tokens, output_tokens AS m_output_tokens, cost_usd AS m_cost_usd, unpriced AS m_unpriced
    FROM {db}.llm_calls_1m
)
GROUP BY hour, model, provider, team, key_id, key_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.llm_calls_latency_1h_mv TO {db}.llm_calls_latency_1h AS
SELECT toStartOfHour(m_minute) AS hour, model, provider, sum(m_calls) AS calls, sum(m_errors) AS errors,
       quantilesTDigestMergeState(0.5, 0.95, 0.99)(m_latency_q) AS latency_q,
       quantilesTDigestMergeState(0.5, 0.95, 0.99)(m_ttft_q) AS ttft_q
FROM
(
    SELECT minute AS m_minute, model, provider, calls AS m_calls, errors AS m_errors, latency_q AS m_latency_q, ttft_q AS m_ttft_q
    FROM {db}.llm_calls_1m
)
GROUP BY hour, model, provider;

-- Backfill from the minute rollup (migrations run before ingest starts: nothing is counted twice).
INSERT INTO {db}.llm_calls_1h
SELECT toStartOfHour(minute) AS h, model, provider, team, key_id, key_name,
       sum(calls), sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd), sum(unpriced)
FROM {db}.llm_calls_1m
GROUP BY h, model, provider, team, key_id, key_name;

INSERT INTO {db}.llm_calls_latency_1h
SELECT toStartOfHour(minute) AS h, model, provider, sum(calls), sum(errors),
       quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_q), quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_q)
FROM {db}.llm_calls_1m
GROUP BY h, model, provider;

-- Per-minute rollups for the dashboards (spend, latency), kept by a materialized view on
-- llm_calls, plus skipping indexes the requests explorer needs on the raw table.
--
-- Grain: (minute, model = requested_model, provider, team, key_id, key_name). Counters are
-- SimpleAggregateFunction(sum) and latency/TTFT are t-digest quantile states, so any range
-- or coarser bucket is a merge of minute rows (quantilesTDigestMerge) computed in ClickHouse.
-- ttft_q aggregates a Nullable column: NULL TTFTs (non-streamed calls) are skipped.
--
-- Duplicates (a choice): llm_calls is a ReplacingMergeTree, so a batch replayed after a
-- crash is removed there by merges/FINAL; but the view sees every inserted block, so such a
-- replay is counted twice in these rollups. We accept that: it needs a crash between the
-- insert and the offset commit, it is bounded by one ingest batch per crash, and the
-- dashboards are for trends and spikes. Exact numbers (the explorer, the request and trace
-- pages, exports) always read llm_calls FINAL. Deduplicating first (a ReplacingMergeTree
-- keyed by request id in front of the aggregation) would need a FINAL read on every
-- dashboard query, which is what rollups exist to avoid.
--
-- Retention: no TTL here yet. It is meant to come from config (e.g. `ALTER TABLE ... MODIFY
-- TTL minute + INTERVAL N DAY` on the rollups, and a shorter TTL on the body columns of
-- llm_calls) applied at start, so it can change without a new migration.
CREATE TABLE IF NOT EXISTS {db}.llm_calls_1m
(
    minute DateTime('UTC'),
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
    unpriced SimpleAggregateFunction(sum, UInt64),
    latency_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    ttft_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, model, provider, team, key_id, key_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.llm_calls_1m_mv TO {db}.llm_calls_1m AS
SELECT
    toStartOfMinute(started_at) AS minute,
    requested_model AS model,
    provider,
    team,
    key_id,
    key_name,
    toUInt64(count()) AS calls,
    toUInt64(countIf(is_error)) AS errors,
    toUInt64(sum(in_tokens)) AS input_tokens,
    toUInt64(sum(out_tokens)) AS output_tokens,
    toFloat64(sum(ifNull(cost, 0))) AS cost_usd,
    toUInt64(countIf(cost IS NULL)) AS unpriced,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency) AS latency_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(ttft) AS ttft_q
-- The inner SELECT renames the measured columns so the aggregates' aliases (named like the
-- rollup's columns) never shadow the raw values they aggregate.
FROM
(
    SELECT started_at, requested_model, provider, team, key_id, key_name,
           status >= 400 OR outcome = 'error' AS is_error,
           input_tokens AS in_tokens, output_tokens AS out_tokens, cost_usd AS cost,
           latency_ms AS latency, ttft_ms AS ttft
    FROM {db}.llm_calls
)
GROUP BY minute, model, provider, team, key_id, key_name;

-- Backfill what was logged before this migration (migrations run before ingest starts, so
-- nothing is inserted concurrently and nothing is counted twice).
INSERT INTO {db}.llm_calls_1m
SELECT
    toStartOfMinute(started_at) AS minute,
    requested_model AS model,
    provider,
    team,
    key_id,
    key_name,
    toUInt64(count()),
    toUInt64(countIf(status >= 400 OR outcome = 'error')),
    toUInt64(sum(input_tokens)),
    toUInt64(sum(output_tokens)),
    toFloat64(sum(ifNull(cost_usd, 0))),
    toUInt64(countIf(cost_usd IS NULL)),
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms),
    quantilesTDigestState(0.5, 0.95, 0.99)(ttft_ms)
FROM {db}.llm_calls FINAL
GROUP BY minute, model, provider, team, key_id, key_name;

-- Explorer text search (`LIKE '%…%'` on the bodies, case-sensitive so the n-gram bloom
-- filter can skip granules) and lookups by key and user. Parts written before this
-- migration have no index until they merge; queries stay correct, only slower.
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_request_body request_body TYPE ngrambf_v1(4, 65536, 3, 0) GRANULARITY 1;
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_response_body response_body TYPE ngrambf_v1(4, 65536, 3, 0) GRANULARITY 1;
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_key_id key_id TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_user user TYPE bloom_filter(0.01) GRANULARITY 4;

-- Legal holds: while a hold is active, nothing it covers (calls of a key, a team, a user or a
-- trace) is deleted by retention or erasure. One row per version of a hold (placing and lifting
-- each insert one); readers use FINAL. Every change is also written to the audit log.
CREATE TABLE IF NOT EXISTS {db}.legal_holds
(
    id String,
    version UInt64,
    kind LowCardinality(String),
    value String,
    reason String,
    active Bool,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Whether a call is under an active hold, kept by the retention sweep (core/src/store/retention.ts).
-- The retention TTLs read it (`TTL … DELETE WHERE NOT legal_hold`, and a body TTL that never
-- expires for a held row), so ClickHouse's own TTL machinery never removes held data.
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS legal_hold Bool DEFAULT false;

-- The retention TTLs last applied to each table (`retention` in gatelog.yaml): compared at start,
-- so a changed policy is applied to existing tables once (ALTER … MODIFY TTL), not at every start.
CREATE TABLE IF NOT EXISTS {db}.retention_applied
(
    target String,
    ttl String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY target;

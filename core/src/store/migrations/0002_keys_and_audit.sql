-- Virtual keys: one row per version of a key (create, edit, revoke each insert a new row).
-- ReplacingMergeTree(version) keeps the highest version per id; readers use FINAL.
-- Only the SHA-256 hash of the secret and a short display prefix are stored, never the secret.
CREATE TABLE IF NOT EXISTS {db}.keys
(
    id String,
    version UInt64,
    key_hash FixedString(64),
    key_prefix String,
    name String,
    team LowCardinality(String),
    owner String,
    models Array(String),
    budget_usd Nullable(Float64),
    budget_period LowCardinality(String),
    rpm Nullable(UInt32),
    tpm Nullable(UInt32),
    max_parallel Nullable(UInt32),
    expires_at Nullable(DateTime64(3, 'UTC')),
    metadata Map(String, String),
    revoked Bool,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Admin audit log: append-only (plain MergeTree, nothing replaces or deletes rows); the UI
-- only ever reads it.
CREATE TABLE IF NOT EXISTS {db}.admin_audit
(
    id UUID,
    at DateTime64(3, 'UTC'),
    actor String,
    action LowCardinality(String),
    target_type LowCardinality(String),
    target String,
    details String CODEC(ZSTD(3)),
    source_ip String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, id);

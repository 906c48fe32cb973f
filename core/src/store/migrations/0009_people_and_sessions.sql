-- People who sign in to the UI, their sessions, and machine tokens for the admin API.
-- Every table holds versioned rows (ReplacingMergeTree(version)); readers use FINAL.
-- No secret is stored: session ids and tokens only as SHA-256 hex, passwords only as scrypt
-- hashes with their salt and parameters, one-time sign-in links only as SHA-256 hex.

-- One row per version of a session. The cookie holds a random id; `id_hash` is its SHA-256.
-- A revocation is written with version >= 1e15 (a touch is a millisecond timestamp), so no
-- late touch from another UI process can bring a revoked session back.
CREATE TABLE IF NOT EXISTS {db}.ui_sessions
(
    id_hash FixedString(64),
    version UInt64,
    subject_kind LowCardinality(String),
    subject String,
    email String,
    role LowCardinality(String),
    teams Array(String),
    master_tag String,
    created_at DateTime64(3, 'UTC'),
    last_seen_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    revoked Bool,
    revoked_reason LowCardinality(String),
    source_ip String,
    user_agent String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id_hash
TTL toDateTime(expires_at) + INTERVAL 30 DAY;

-- People (local accounts and single sign-on). `password_hash`: `scrypt$N$r$p$salt$hash`.
CREATE TABLE IF NOT EXISTS {db}.ui_users
(
    id String,
    version UInt64,
    email String,
    name String,
    role LowCardinality(String),
    teams Array(String),
    auth_source LowCardinality(String),
    password_hash String,
    invite_hash String,
    invite_expires_at Nullable(DateTime64(3, 'UTC')),
    disabled Bool,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Machine tokens for the admin API (`Authorization: Bearer glt-…`), scoped by role and teams.
CREATE TABLE IF NOT EXISTS {db}.api_tokens
(
    id String,
    version UInt64,
    token_hash FixedString(64),
    token_prefix String,
    name String,
    role LowCardinality(String),
    teams Array(String),
    expires_at Nullable(DateTime64(3, 'UTC')),
    revoked Bool,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

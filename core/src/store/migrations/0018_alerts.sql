-- Alerts (core/src/alerts): rules made in the UI, the history of every firing, recovery and
-- delivery attempt, and the lease that lets one proxy of many evaluate each tick.
--
-- alert_rules: one row per version of a UI-made rule (rules in gatelog.yaml are not stored);
-- the newest version wins (FINAL / argMax by version). `spec` is the rule as JSON, validated
-- by core/src/alerts/rule.ts on read; it names channels, never a webhook URL or secret.
CREATE TABLE IF NOT EXISTS {db}.alert_rules
(
    id String,
    version UInt64,
    name String,
    spec String,
    enabled Bool,
    deleted Bool DEFAULT false,
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- alert_events: `fired` / `resolved` transitions (the state machine's memory across ticks and
-- proxies: the newest transition per rule and subject is the current state) and `delivery`
-- rows, one per webhook attempt. No URL, header or secret is ever written here.
CREATE TABLE IF NOT EXISTS {db}.alert_events
(
    event_id UUID,
    at DateTime64(3, 'UTC'),
    rule_id String,
    rule_name String,
    rule_kind LowCardinality(String),
    subject String,
    kind LowCardinality(String),
    incident_id String,
    value Float64,
    threshold Float64,
    message String,
    channel String DEFAULT '',
    attempt UInt8 DEFAULT 0,
    http_status UInt16 DEFAULT 0,
    delivery_error String DEFAULT '',
    duration_ms Float64 DEFAULT 0
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (rule_id, subject, at)
TTL toDateTime(at) + INTERVAL 400 DAY;

-- alert_lease: every proxy claims each evaluation slot (floor(now / interval)); the first claim
-- in ClickHouse's own order (server time, then holder) evaluates it. Old slots expire.
CREATE TABLE IF NOT EXISTS {db}.alert_lease
(
    slot UInt64,
    holder String,
    claimed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (slot, claimed_at, holder)
TTL toDateTime(claimed_at) + INTERVAL 1 DAY;

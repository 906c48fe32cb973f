-- audit_stream_status: how each audit sink's forwarding last went (core/src/audit-stream), kept
-- next to its cursor (0032) so that every proxy answers GET /admin/audit/sinks and the UI's
-- audit page alike, whichever process holds the sink's lease. The forwarder writes a row when
-- it gives a batch up (every attempt spent, or a single row refused as too large) and when the
-- sink takes a batch again; a process that takes the sink over reads it to go on counting.
-- The newest row per sink wins: ReplacingMergeTree(updated_at); readers take the row with the
-- highest updated_at (ClickHouse's own clock, so processes on other hosts order alike).
-- `error` is a code (`http_503`, `ECONNREFUSED`, `timeout`) and `reason` a fixed sentence:
-- no URL, header, secret or row content is ever written here.
CREATE TABLE IF NOT EXISTS {db}.audit_stream_status
(
    sink String,
    -- Failed delivery attempts since the sink last took a batch (0: not failing).
    failures UInt32,
    failing_since DateTime64(3, 'UTC'),
    http_status UInt16,
    error String,
    reason String,
    error_at DateTime64(3, 'UTC'),
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY sink;

-- audit_stream_cursor: how far each audit sink (audit.sinks in gatelog.yaml) has been sent, per
-- audit chain: the highest seq the sink accepted (core/src/audit-stream). A row is written
-- after every accepted batch; readers take max(seq), so a cursor only ever moves forward and
-- merges keep one row per (sink, chain).
CREATE TABLE IF NOT EXISTS {db}.audit_stream_cursor
(
    sink String,
    chain_id String,
    seq UInt64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (sink, chain_id);

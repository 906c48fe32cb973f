-- Feedback and scores on recorded calls (POST /v1/feedback from applications, PUT
-- /admin/calls/:id/feedback from people; core/src/store/feedback.ts). One current value per
-- (key, call or trace, name, author): re-rating inserts a newer row and readers use FINAL.
-- `key_id` is the call's key — for an application's feedback, the key that sent it, which is
-- attached only to calls that key made (a call may not be stored yet when it is scored, ~1 s of
-- ingest lag, so the check happens when feedback is read). `request_id` is '' for feedback on a
-- whole trace (Portkey's `trace_id`). `comment` and `metadata` are personal data: erasure
-- removes these rows with their calls, and the retention sweep removes them once their calls
-- are gone (retention.ts).
CREATE TABLE IF NOT EXISTS {db}.call_feedback
(
    key_id String,
    request_id String,
    trace_id String,
    name LowCardinality(String),
    scored_by String,
    value Float64,
    weight Float64 DEFAULT 1,
    comment String CODEC(ZSTD(3)),
    metadata Map(String, String),
    source LowCardinality(String),
    team LowCardinality(String),
    user String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (key_id, request_id, trace_id, name, scored_by)

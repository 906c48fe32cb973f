-- W3C trace context a caller sent (traceparent / tracestate): the caller's trace id (kept even
-- when x-gatelog-trace-id names the call's trace otherwise), the caller's span that is the
-- call's parent, its trace flags (bit 0: sampled) and its tracestate (at most 512 characters).
-- Empty / 0 when the call came without a valid traceparent.
ALTER TABLE {db}.llm_calls
    ADD COLUMN IF NOT EXISTS parent_trace_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS parent_span_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS trace_flags UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS trace_state String DEFAULT '',
    ADD INDEX IF NOT EXISTS idx_parent_trace parent_trace_id TYPE bloom_filter(0.01) GRANULARITY 4;

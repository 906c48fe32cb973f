-- Per attempt of a call (retries, fallbacks, the final one), what went upstream and what came
-- back, exactly: the request as sent (after alias rewrite, translation, injected options), the
-- raw response as received (SSE text included), the provider's request id, sizes and SHA-256 of
-- the bytes on the wire. One element per element of `attempts`, same order. A body identical to
-- the call's own request/response body is not stored twice: `*_same` is set and the body is ''.
-- Bodies are redacted and capped like request_body/response_body; the body retention TTL and
-- erasure cover this column too (core/src/store/retention.ts, erasure.ts).
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS attempt_io Array(Tuple(
    provider_request_id String,
    request_same Bool,
    request_body String,
    request_parts Array(Tuple(at UInt32, hash String)),
    request_bytes UInt32,
    request_sha256 String,
    response_same Bool,
    response_body String,
    response_bytes UInt32,
    response_sha256 String,
    truncated Bool
)) DEFAULT [] CODEC(ZSTD(3)) AFTER redactions;

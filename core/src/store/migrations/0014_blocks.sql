-- Content-addressed body blocks (core/src/store/blocks.ts): a large request body is stored as a
-- skeleton in llm_calls.request_body plus blocks cut out of it, each stored once in llm_blocks
-- by the sha256 (hex) of its UTF-8 bytes, so a conversation resent on every turn is kept whole
-- without being kept fifty times. `request_parts` says where each block goes back: `at` is the
-- UTF-8 byte offset in the stored skeleton. Blocks are written before the calls that name them;
-- rewriting one (same hash, same bytes) only refreshes last_seen, which its retention TTL
-- counts from (core/src/store/retention.ts).
CREATE TABLE IF NOT EXISTS {db}.llm_blocks
(
    hash String,
    body String CODEC(ZSTD(3)),
    bytes UInt32,
    last_seen DateTime
)
ENGINE = ReplacingMergeTree(last_seen)
ORDER BY hash;

ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS request_parts Array(Tuple(at UInt32, hash String)) DEFAULT [];

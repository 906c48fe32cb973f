-- Cost that matches the invoice: every token kind a provider bills at its own rate gets its own
-- column (all parts of the existing totals: cache_creation_tokens = 5m + 1h writes,
-- input/output_audio_tokens are parts of input/output_tokens; reasoning_tokens already holds
-- reasoning/thinking), and each row names the price table its cost_usd came from.
-- price_version: `genai-prices@<version>` (+ `+custom:<hash>` of the config's custom prices);
-- '' for rows written before this migration. repriced_at: when `gatelog reprice` last
-- recomputed cost_usd from the token columns (NULL: priced when recorded).
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS cache_write_5m_tokens UInt32 DEFAULT 0 AFTER cache_creation_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt32 DEFAULT 0 AFTER cache_write_5m_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS input_audio_tokens UInt32 DEFAULT 0 AFTER reasoning_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS output_audio_tokens UInt32 DEFAULT 0 AFTER input_audio_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS price_version LowCardinality(String) DEFAULT '' AFTER cost_usd;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS repriced_at Nullable(DateTime64(3, 'UTC')) DEFAULT NULL AFTER price_version;

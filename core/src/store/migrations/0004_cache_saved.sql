-- What a cache hit saved: the cost of the original call it was served from. A hit
-- itself records cost_usd 0 and cache_hit true; 0 here for every other call.
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS cache_saved_usd Float64 DEFAULT 0 AFTER cache_hit;

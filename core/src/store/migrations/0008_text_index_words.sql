-- Explorer text search, second form. The `text` indexes of 0006 index the bodies through a
-- `lowerUTF8` preprocessor, which serves `ILIKE '%…%'` only through the pattern's interior
-- words: a search for one order reference or id (`ORD-8234679`) has none and scans every
-- body. A whole-word search (hasAllTokens) could use those indexes, but ClickHouse applies the
-- preprocessor to the needle only when it reads the index: evaluated on the rows (a part not
-- yet indexed, or use_skip_indexes=0) the match is case-sensitive, so results would depend on
-- the plan. Indexing the expression `lowerUTF8(body)` instead makes one predicate exact either
-- way — `hasAllTokens(lowerUTF8(body), lowerUTF8(needle))` for whole words,
-- `lowerUTF8(body) LIKE lowerUTF8(pattern)` for any substring — and both are served by it.
-- Parts written before this migration get the new indexes from MATERIALIZE INDEX (a
-- background mutation) or their next merge; until then they are scanned, never skipped wrongly.
ALTER TABLE {db}.llm_calls DROP INDEX IF EXISTS idx_request_body_text;
ALTER TABLE {db}.llm_calls DROP INDEX IF EXISTS idx_response_body_text;
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_request_body_words lowerUTF8(request_body) TYPE text(tokenizer = splitByNonAlpha);
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_response_body_words lowerUTF8(response_body) TYPE text(tokenizer = splitByNonAlpha);
ALTER TABLE {db}.llm_calls MATERIALIZE INDEX idx_request_body_words;
ALTER TABLE {db}.llm_calls MATERIALIZE INDEX idx_response_body_words;

-- What redaction replaced in a call before it was written: occurrences by placeholder type
-- (EMAIL, PHONE, CARD, OPENAI_KEY, …). Counts only, never the values.
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS redactions Map(LowCardinality(String), UInt32) AFTER truncated;

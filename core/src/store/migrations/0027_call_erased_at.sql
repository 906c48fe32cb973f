-- When a call was erased (0: never): set by an erasure's mutation in bodies mode and by ingest
-- when it stores a call an earlier erasure covers (core/src/store/erasure.ts). An erased call
-- keeps no user, so which erasure covered it cannot be worked out again from the row: the mark
-- is what removes the feedback that reaches the call afterwards (feedback-removal.ts), and what
-- hides it from reads until then. The minmax index lets the retention sweep find the calls
-- erased since its last run without reading the column of every part.
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS erased_at DateTime64(3, 'UTC') DEFAULT 0;
ALTER TABLE {db}.llm_calls ADD INDEX IF NOT EXISTS idx_erased erased_at TYPE minmax GRANULARITY 1;

-- Ingest sends a deterministic insert_deduplication_token per batch (local log: its byte range;
-- Kafka: topic-partition-offsets). Keeping recent tokens makes a batch replayed after a crash
-- a no-op at insert time, so the rollup materialized views never count it twice.
ALTER TABLE {db}.llm_calls MODIFY SETTING non_replicated_deduplication_window = 10000;

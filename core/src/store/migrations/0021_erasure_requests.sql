-- Erasure requests (POST /admin/erase, `gatelog erase`): the selector as JSON and when it was
-- asked, written before the erasure rewrites llm_calls. Ingest applies every request to the rows
-- it inserts afterwards whose call started before the request (ingest/src/erasure-guard.ts): a
-- call still in flight when it was asked (in a proxy's spool during a Kafka outage, in Kafka's
-- backlog, in an ingest worker's batch) or delivered again by Kafka later is stored erased too,
-- and a call erased as a row is not stored again.
CREATE TABLE IF NOT EXISTS {db}.erasure_requests
(
    id String,
    requested_at DateTime64(3, 'UTC'),
    selector String
)
ENGINE = MergeTree
ORDER BY (requested_at, id)

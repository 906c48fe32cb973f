-- batch_objects: the OpenAI files and batch jobs gatelog handed out (proxy/src/batches), with who
-- owns each: the upstream provider it lives on, the team and virtual key that made it, and when.
-- Every proxy of a distributed deployment reads ownership here, so a tenant's id is refused to
-- another tenant (404) whichever process is asked, and lists show a team only its own objects.
-- `object` is the last OpenAI object seen (file or batch JSON, as the upstream sent it), so lists
-- are answered from here, never from the upstream account every tenant shares. `line_models` (a
-- batch input file gatelog rewrote) maps the upstream model names back to the aliases the client
-- wrote, so recorded calls show the request as sent. A batch's results recorded as calls leave a
-- row of kind `batch_recorded` (id = the batch's): a marker later versions of the batch row
-- cannot overwrite. The newest version of a row wins: ReplacingMergeTree(updated_at), read FINAL.
CREATE TABLE IF NOT EXISTS {db}.batch_objects
(
    id String,
    kind LowCardinality(String),
    provider String,
    team String,
    key_id String,
    key_name String,
    created_at DateTime64(3, 'UTC'),
    purpose LowCardinality(String),
    input_file_id String,
    status LowCardinality(String),
    line_models String CODEC(ZSTD(3)),
    object String CODEC(ZSTD(3)),
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (kind, id);

-- Tamper-evident audit trail (core/src/store/audit.ts): every row carries a SHA-256 over its
-- canonical content and the previous row's hash, in a chain per writer instance (chain_id,
-- seq from 1). `actor` is the person (email, `master`, or a machine token's name), `role`
-- what they acted as, `user_agent` their client. Rows written before this migration have
-- chain_id '' and are reported by `gatelog audit verify` as unchained.
ALTER TABLE {db}.admin_audit
    ADD COLUMN IF NOT EXISTS chain_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS seq UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS prev_hash String DEFAULT '',
    ADD COLUMN IF NOT EXISTS row_hash String DEFAULT '',
    ADD COLUMN IF NOT EXISTS role LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS user_agent String DEFAULT '';

ALTER TABLE {db}.admin_audit ADD INDEX IF NOT EXISTS audit_chain_idx chain_id TYPE bloom_filter GRANULARITY 4;

ALTER TABLE {db}.admin_audit ADD INDEX IF NOT EXISTS audit_actor_idx actor TYPE bloom_filter GRANULARITY 4;

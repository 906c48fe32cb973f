-- Rotating a virtual key's secret (POST /admin/keys/:id/rotate) keeps the key — its id, team,
-- limits, budget and spend — and replaces the secret. The secret it replaced may keep working
-- for a grace period while deployments switch: its hash and display prefix are kept, with the
-- moment it stops. `counter_salt` keeps the first secret's hash, which names the key's end-user
-- counters (proxy/src/governance/end-user.ts), so a rotation does not restart them. Empty / NULL
-- on every key never rotated.
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS previous_key_hash String DEFAULT '' AFTER key_prefix;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS previous_key_prefix String DEFAULT '' AFTER previous_key_hash;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS previous_valid_until Nullable(DateTime64(3, 'UTC')) AFTER previous_key_prefix;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS rotated_at Nullable(DateTime64(3, 'UTC')) AFTER previous_valid_until;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS counter_salt String DEFAULT '' AFTER rotated_at;

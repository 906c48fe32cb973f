-- Limits per end user of a virtual key (the `user` a call names): requests and tokens per
-- minute and a budget per period for each end user separately, and whether a call must name
-- one. Nullable (no limit) on every existing key; the proxy enforces them
-- (proxy/src/governance/end-user.ts).
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS user_rpm Nullable(UInt32) AFTER max_parallel;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS user_tpm Nullable(UInt32) AFTER user_rpm;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS user_budget_usd Nullable(Float64) AFTER user_tpm;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS user_budget_period LowCardinality(String) DEFAULT 'none' AFTER user_budget_usd;
ALTER TABLE {db}.keys ADD COLUMN IF NOT EXISTS require_user Bool DEFAULT false AFTER user_budget_period;

-- job_lease: which of several instances runs a once-only job (a scheduled export of one
-- period). Each instance claims the job whenever it looks and keeps claiming while it works;
-- the earliest claimant among those heard from recently runs it (job-lease.ts). Claims are
-- only needed while a job is undecided or running: old ones expire.
CREATE TABLE IF NOT EXISTS {db}.job_lease
(
    job String,
    holder String,
    claimed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (job, claimed_at, holder)
TTL toDateTime(claimed_at) + INTERVAL 30 DAY;

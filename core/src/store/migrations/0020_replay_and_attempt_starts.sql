-- Replays and retry waits.
-- replay_of: the request id of the call this one replays (POST /admin/replay), '' for a call a
-- client made. Spend and the explorer can flag or leave out replays by it.
-- attempt_starts: when each element of `attempts` was dispatched, milliseconds after the call
-- arrived (same order, same length; [] for calls recorded before this column). The gaps between
-- one attempt's end and the next one's start are the waits between retries (backoff).
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS replay_of String DEFAULT '';
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS attempt_starts Array(Float64) DEFAULT []

-- The teams a legal hold is limited to: a team-scoped caller's hold of a key, user or trace
-- covers the calls of its own teams only (core/src/store/retention.ts heldExpr). Empty = every
-- team, as for every hold placed before; code that predates this column ignores it and so
-- holds more, never less.
ALTER TABLE {db}.legal_holds ADD COLUMN IF NOT EXISTS teams Array(String) DEFAULT []

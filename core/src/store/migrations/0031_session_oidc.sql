-- Single sign-on logout (OpenID Connect Back-Channel Logout 1.0): which provider session a UI
-- session was opened from, so the provider's logout token ends exactly those sessions.
-- `oidc_subject` is `iss sub` as in ui_users; `oidc_sid_hash` the SHA-256 hex of `iss sid` (the
-- provider's session id itself is not kept). Both '' for a password, link or master-key session.
ALTER TABLE {db}.ui_sessions ADD COLUMN IF NOT EXISTS oidc_subject String DEFAULT '' AFTER master_tag;
ALTER TABLE {db}.ui_sessions ADD COLUMN IF NOT EXISTS oidc_sid_hash String DEFAULT '' AFTER oidc_subject;

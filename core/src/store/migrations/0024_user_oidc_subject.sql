-- Single sign-on: the OpenID Connect subject (`iss sub`) a person signing in through the
-- provider is bound to, so an email address later given to someone else at the provider does
-- not hand them this account (core/src/auth/oidc-account.ts).
ALTER TABLE {db}.ui_users ADD COLUMN IF NOT EXISTS oidc_subject String DEFAULT '' AFTER auth_source;

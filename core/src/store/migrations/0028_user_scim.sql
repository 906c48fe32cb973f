-- SCIM provisioning (core/src/scim/): the identity provider's own id for a person
-- (`externalId`, what Okta and Entra ID look a person up by), and whether the provider manages
-- the account: '' (not provisioned), `managed`, or `deleted` (a SCIM DELETE: the account stays,
-- disabled, for the audit trail, but no longer exists for the provider).
ALTER TABLE {db}.ui_users ADD COLUMN IF NOT EXISTS scim_external_id String DEFAULT '' AFTER oidc_subject;
ALTER TABLE {db}.ui_users ADD COLUMN IF NOT EXISTS scim_state LowCardinality(String) DEFAULT '' AFTER scim_external_id;

-- Groups an identity provider provisions over SCIM (core/src/scim/groups.ts): a group's name
-- goes through the same `sso.oidc` roles and teams maps as a groups claim, and its members (ids
-- of ui_users) have it among their groups at every single sign-on. Versioned rows as ui_users;
-- a deleted group is a version with `deleted`.
CREATE TABLE IF NOT EXISTS {db}.scim_groups
(
    id String,
    version UInt64,
    display_name String,
    external_id String,
    members Array(String),
    deleted Bool,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    updated_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

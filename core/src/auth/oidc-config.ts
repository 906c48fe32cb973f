// `sso.oidc` in gatelog.yaml: single sign-on to the UI through an OpenID Connect provider
// (Okta, Entra ID, Google Workspace, Keycloak…). A person's role and teams come from the
// provider's groups claim through the `roles` and `teams` maps; a group that maps to nothing
// never grants anything (see oidc-account.ts for how a sign-in is decided).
import { z } from 'zod';
import { ROLES } from '../roles.ts';

/** A string that may have come from a numeric-looking env value (`client_id: ${ID}`). */
const Str = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string());

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http for a provider on this machine only (a test or a local Keycloak). */
const ProviderUrl = z.url({ protocol: /^https?$/ }).refine((s) => {
  const u = new URL(s);
  return u.protocol === 'https:' || LOOPBACK.has(u.hostname);
}, 'expected an https:// URL (http:// only for localhost or 127.0.0.1)');

const Group = z.string().min(1).max(512);
/** An OAuth scope token (RFC 6749 §3.3). */
const Scope = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope name without spaces or quotes');
const Domain = z.string().trim().toLowerCase().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a domain name such as example.com');

export const OidcConfig = z.object({
  /** The provider's issuer URL; its /.well-known/openid-configuration is read from there. */
  issuer: ProviderUrl,
  client_id: Str.pipe(z.string().min(1)),
  /** Give it as `${VAR}`: never written to a log or the store. */
  client_secret: Str.pipe(z.string().min(1)),
  /** The button's label: "Sign in with <display_name>". */
  display_name: z.string().trim().min(1).max(64).default('SSO'),
  scopes: z.array(Scope).min(1).default(['openid', 'email', 'profile']).refine((s) => s.includes('openid'), 'must include openid'),
  /** The claim listing a person's groups (a dotted path reaches into an object: `realm_access.roles`). */
  groups_claim: z.string().min(1).max(128).default('groups'),
  /** Group → role; a person in several mapped groups gets the highest of their roles. */
  roles: z.record(Group, z.enum(ROLES)).default({}),
  /** Role for a person none of whose groups is in `roles`; absent = such a person is refused. */
  default_role: z.enum(ROLES).optional(),
  /**
   * Group → team. Absent: nobody signing in through the provider has a team scope. Present: a
   * person's teams are those their groups map to, and a person in none of them is refused unless
   * one of their groups is in `unscoped_groups`.
   */
  teams: z.record(Group, z.string().trim().min(1).max(128)).optional(),
  /** With `teams`: groups whose members see every team. */
  unscoped_groups: z.array(Group).default([]),
  /** Only emails in these domains may sign in (absent: any domain the provider vouches for). */
  allowed_email_domains: z.array(Domain).min(1).optional(),
  /** false: only the provider and the master key (break-glass) sign in; passwords and sign-in links are refused. */
  password_sign_in: z.boolean().default(true),
  /** Where the provider sends the browser back; default `<the UI's origin>/login/sso/callback`. */
  redirect_url: ProviderUrl.optional(),
  /**
   * Signing out of gatelog (oidc-logout.server.ts). `end_provider_session` (default false, as
   * most applications behind single sign-on do, and since Okta's logout refuses a request
   * without the ID token gatelog does not keep): true sends a person whose session came from the
   * provider on to its `end_session_endpoint` (OpenID Connect RP-Initiated Logout), when its
   * discovery document publishes one, and back to /login; false: only gatelog's session ends. Back-channel logout
   * (the provider ending gatelog's sessions) needs no setting: register its URL at the provider.
   */
  logout: z.object({ end_provider_session: z.boolean().default(false) }).strict().prefault({}),
}).strict().superRefine((c, ctx) => {
  if (c.unscoped_groups.length > 0 && c.teams === undefined) {
    ctx.addIssue({ code: 'custom', path: ['unscoped_groups'], message: 'only meaningful with `teams` (without it nobody has a team scope)' });
  }
  if (c.redirect_url !== undefined && new URL(c.redirect_url).pathname !== '/login/sso/callback') {
    ctx.addIssue({ code: 'custom', path: ['redirect_url'], message: 'must end in /login/sso/callback' });
  }
});
export type OidcConfig = z.infer<typeof OidcConfig>;

/**
 * `sso.scim`: the identity provider provisions people over SCIM 2.0 at /scim/v2 (core/src/scim/),
 * authenticated by a machine token whose role may `people.provision`. Off by default (/scim/v2
 * answers 404); needs `oidc`, since a provisioned person has no password and signs in through it.
 */
export const ScimConfig = z.object({
  enabled: z.boolean().default(false),
  /** Single sign-on only for people the provider provisioned (oidc-account.ts decideAccount): nobody is created at sign-in. */
  provisioned_only: z.boolean().default(false),
}).strict().superRefine((c, ctx) => {
  if (c.provisioned_only && !c.enabled) {
    ctx.addIssue({ code: 'custom', path: ['provisioned_only'], message: 'needs enabled: true (without SCIM nobody is provisioned, so nobody could sign in through the provider)' });
  }
});
export type ScimConfig = z.infer<typeof ScimConfig>;

export const SsoConfig = z.object({ oidc: OidcConfig.optional(), scim: ScimConfig.prefault({}) }).strict().superRefine((c, ctx) => {
  if (c.scim.enabled && c.oidc === undefined) {
    ctx.addIssue({ code: 'custom', path: ['scim', 'enabled'], message: 'needs sso.oidc: a provisioned person has no password and signs in through the provider' });
  }
});
export type SsoConfig = z.infer<typeof SsoConfig>;

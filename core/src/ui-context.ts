// How a process that embeds the UI hands it what it opened: the embedded launcher calls
// provideUiContext() before importing the UI's handler, and the UI's server code reads it with
// providedUiContext(). The UI build keeps this one module external (ui/vite.config.ts), so the
// launcher and the bundled UI share it as one module; nothing goes through globals. A UI
// running as its own service finds nothing here and opens its own store (uiEnv).
import type { HostCheck } from './allowed-hosts.ts';
import type { Store } from './store/client.ts';
import type { TeamConfig } from './config.ts';
import type { StateConfig } from './state-config.ts';
import type { OidcConfig, ScimConfig } from './auth/oidc-config.ts';

export interface UiContext {
  store: Store;
  masterKey: string | undefined;
  /** The admin API's base URL when the UI runs apart from the proxy; undefined = this process. */
  adminUrl?: string | undefined;
  /** Host headers answered (server.allowed_hosts); the embedded launcher checks them before the UI. */
  hostCheck?: HostCheck | null | undefined;
  /** Team budgets from gatelog.yaml (`teams:`), shown against month-to-date spend on the spend page. */
  teamBudgets?: Readonly<Record<string, TeamConfig>> | undefined;
  /**
   * `state:` from gatelog.yaml: with `redis`, sign-in failure counts and lockouts are shared by
   * every UI process (absent: each process keeps its own, as the one-process embedded mode does).
   */
  state?: StateConfig | undefined;
  /** `sso.oidc` from gatelog.yaml: single sign-on to the UI through an OpenID Connect provider. */
  oidc?: OidcConfig | undefined;
  /**
   * `sso.scim`: when enabled, a person's groups at sign-in include the SCIM groups they are a
   * member of; with `provisioned_only`, only provisioned people sign in through the provider.
   */
  scim?: ScimConfig | undefined;
}

let provided: UiContext | undefined;

/** Called once by the process embedding the UI, before the first request reaches it. */
export function provideUiContext(ctx: UiContext): void {
  provided = ctx;
}

export function providedUiContext(): UiContext | undefined {
  return provided;
}

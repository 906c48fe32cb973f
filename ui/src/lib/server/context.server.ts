// Where the UI gets its store and master key. Embedded mode: the launcher provides them through
// @gatelog/core/ui-context before importing the handler (one store per process, opened by the
// launcher). Standalone mode (the UI as its own service): opened here once from the same
// config, with the environment read through core's UiEnv schema.
//
// Environment (core/src/env.ts, UiEnv): GATELOG_CONFIG, GATELOG_DATA_DIR, GATELOG_MASTER_KEY,
// GATELOG_ADMIN_URL (the proxy whose admin API performs this UI's writes: keys and audit rows;
// required when the store is a ClickHouse server, which the UI reads with a read-only user);
// plus adapter-node's own (PORT, HOST, ORIGIN, PROTOCOL_HEADER…) and gatelog.yaml's ${VAR}s.
// From gatelog.yaml the UI also takes `state:` (the proxies' Redis): sign-in lockouts are shared
// through it by every UI process (signin-limit-shared.server.ts); and `sso.oidc` (oidc.server.ts).
import { ConfigError, type GatelogConfig } from '@gatelog/core/config';
import { loadConfig } from '@gatelog/core/config-load';
import { uiEnv, type UiEnv } from '@gatelog/core/env';
import { openStore } from '@gatelog/core/store/client';
import { createHostCheck } from '@gatelog/core/allowed-hosts';
import { providedUiContext, type UiContext } from '@gatelog/core/ui-context';

export type { UiContext };

// A UI running as its own service reads its environment and config as it starts (the hooks load
// this module before the server listens), so a bad variable stops it, named. Embedded: provided.
function standaloneSettings(): { vars: UiEnv; config: GatelogConfig } {
  const { vars, raw } = uiEnv();
  const { config } = loadConfig({ path: vars.GATELOG_CONFIG, env: raw });
  if (config.storage.clickhouse !== 'embedded' && !vars.GATELOG_ADMIN_URL) {
    throw new ConfigError('GATELOG_ADMIN_URL: required when the UI reads a ClickHouse server (it writes keys and audit rows through a proxy\'s admin API)');
  }
  return { vars, config };
}
const settings = providedUiContext() ? undefined : standaloneSettings();

async function openStandalone(): Promise<UiContext> {
  const { vars, config } = settings ?? standaloneSettings();
  const store = await openStore(config.storage, vars.GATELOG_DATA_DIR);
  const masterKey = vars.GATELOG_MASTER_KEY;
  return { store, masterKey, adminUrl: vars.GATELOG_ADMIN_URL, hostCheck: createHostCheck(config.server.allowed_hosts, masterKey === undefined), teamBudgets: config.teams, state: config.state, oidc: config.sso.oidc, scim: config.sso.scim };
}

let standalone: Promise<UiContext> | undefined;

export function uiContext(): Promise<UiContext> {
  const provided = providedUiContext();
  if (provided) return Promise.resolve(provided);
  // A failed open (bad config, store down) is not cached: the next request tries again.
  standalone ??= openStandalone().catch((err: unknown) => {
    standalone = undefined;
    throw err;
  });
  return standalone;
}

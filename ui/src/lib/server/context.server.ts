// Where the UI gets its store and master key. Embedded mode: the launcher puts them on
// globalThis before importing the handler (one store per process, opened by the launcher).
// Standalone mode (the UI as its own process): opened here once from the same config.
import type { Store } from '@gatelog/core/store/client';
import { loadConfig } from '@gatelog/core/config';
import { openStore } from '@gatelog/core/store/client';
import { createHostCheck, type HostCheck } from '@gatelog/core/allowed-hosts';

export interface UiContext {
  store: Store;
  masterKey: string | undefined;
  /** The admin API's base URL when the UI runs apart from the proxy; undefined = this process. */
  adminUrl?: string | undefined;
  /** Host headers answered (server.allowed_hosts); the embedded launcher checks them before the UI. */
  hostCheck?: HostCheck | null | undefined;
}

const KEY = Symbol.for('gatelog.ui');

function isUiContext(v: unknown): v is UiContext {
  if (!v || typeof v !== 'object') return false;
  const store = (v as { store?: unknown }).store;
  return !!store && typeof store === 'object' && 'client' in store && 'database' in store;
}

async function openStandalone(env: Record<string, string | undefined>): Promise<UiContext> {
  const { config } = loadConfig({ env });
  const store = await openStore(config.storage, env['GATELOG_DATA_DIR'] ?? './data');
  const key = env['GATELOG_MASTER_KEY'];
  const adminUrl = env['GATELOG_ADMIN_URL'];
  const masterKey = key ? key : undefined;
  return { store, masterKey, adminUrl: adminUrl ? adminUrl : undefined, hostCheck: createHostCheck(config.server.allowed_hosts, masterKey === undefined) };
}

let standalone: Promise<UiContext> | undefined;

export function uiContext(): Promise<UiContext> {
  const injected = (globalThis as Record<symbol, unknown>)[KEY];
  if (isUiContext(injected)) {
    const key = injected.masterKey;
    return Promise.resolve({ store: injected.store, masterKey: key ? key : undefined });
  }
  // A failed open (bad config, store down) is not cached: the next request tries again.
  standalone ??= openStandalone(process.env).catch((err: unknown) => {
    standalone = undefined;
    throw err;
  });
  return standalone;
}

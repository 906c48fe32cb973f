// Where the UI's own rows (sessions, a password set through a one-time link) are written:
// straight to the store when this process owns it (embedded), or through the proxy's
// POST /admin/ui/* when the UI reads ClickHouse with a read-only user (distributed), the same
// documented path as its keys and audit rows.
import type { Store } from '@gatelog/core/store/client';
import { writeSession, type SessionRecord } from '@gatelog/core/store/sessions';
import { insertUserVersion, type UserRecord } from '@gatelog/core/store/users';

export interface UiWrites {
  session(rec: SessionRecord): Promise<void>;
  user(rec: UserRecord): Promise<void>;
}

export interface UiWriteTarget {
  store: Store;
  masterKey: string | undefined;
  adminUrl?: string | undefined;
}

export function uiWrites(ctx: UiWriteTarget): UiWrites {
  const { store } = ctx;
  if (!ctx.adminUrl) return { session: (rec) => writeSession(store, rec), user: (rec) => insertUserVersion(store, rec) };
  const base = ctx.adminUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (ctx.masterKey !== undefined) headers['authorization'] = `Bearer ${ctx.masterKey}`;
  const post = async (path: string, body: object): Promise<void> => {
    // Loaded by the root type check too (tests import the session service), so plain fetch
    // rather than admin-api.server.ts and its SvelteKit types.
    const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'error', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`the admin API refused ${path} (${res.status}): ${(await res.text()).slice(0, 200)}`);
  };
  return { session: (rec) => post('/admin/ui/sessions', rec), user: (rec) => post('/admin/ui/users', rec) };
}

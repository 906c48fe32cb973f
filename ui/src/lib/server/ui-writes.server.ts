// Where the UI's own rows (sessions, a password set through a one-time link) are written:
// straight to the store when this process owns it (embedded), or through the proxy's
// POST /admin/ui/* when the UI reads ClickHouse with a read-only user (distributed), the same
// documented path as its keys and audit rows.
import type { Store } from '@gatelog/core/store/client';
import { writeSession, type SessionRecord } from '@gatelog/core/store/sessions';
import { insertUserVersion, type UserRecord } from '@gatelog/core/store/users';
import { adminCall } from './admin-call.server.ts';

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
  const post = async (path: string, body: object): Promise<void> => {
    const r = await adminCall(base, ctx.masterKey, 'POST', path, body);
    if (!r.ok) throw new Error(`the admin API refused ${path} (${r.status}): ${r.message}`);
  };
  return { session: (rec) => post('/admin/ui/sessions', rec), user: (rec) => post('/admin/ui/users', rec) };
}

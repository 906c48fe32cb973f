// Which UI sessions a provider's logout names (liveSessionsFromOidc), against a real chDB store
// with migration 0031: by provider session (sid hash), or by the person at the provider (sub);
// never a password or master-key session, another provider's, a revoked or expired one, or one
// opened after the token was issued.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { liveSessionsFromOidc, sessionByHash, writeSession, type SessionRecord } from './sessions.ts';
import { sidHashOf } from '../auth/oidc-logout-token.ts';

const ISS = 'https://idp.example.com';
const T0 = Date.UTC(2026, 11, 5, 7, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();
const hex = (n: number): string => n.toString(16).padStart(64, '0');

let dir: string;
let store: Store;

function session(n: number, o: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id_hash: hex(n), version: T0, subject_kind: 'user', subject: 'usr_ann', email: 'ann@example.com', role: 'analyst', teams: [], master_tag: '',
    oidc_subject: `${ISS} ann`, oidc_sid_hash: sidHashOf(ISS, 'sid-1'), created_at: iso(T0 - 60_000), last_seen_at: iso(T0 - 60_000),
    expires_at: iso(T0 + 3_600_000), revoked: false, revoked_reason: '', source_ip: '', user_agent: '', ...o,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-ui-sessions-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const rows = [
    session(1), // ann, provider session sid-1
    session(2, { oidc_sid_hash: sidHashOf(ISS, 'sid-2') }), // ann, another provider session
    session(3, { oidc_subject: '', oidc_sid_hash: '' }), // ann's password session
    session(4, { subject: 'usr_bob', email: 'bob@example.com', oidc_subject: `${ISS} bob`, oidc_sid_hash: sidHashOf(ISS, 'sid-3') }),
    session(5, { oidc_subject: 'https://other.example.com ann', oidc_sid_hash: sidHashOf('https://other.example.com', 'sid-1') }),
    session(6, { revoked: true, revoked_reason: 'signed_out' }),
    session(7, { expires_at: iso(T0 - 1000) }),
    session(8, { created_at: iso(T0 + 120_000), last_seen_at: iso(T0 + 120_000) }), // opened after the token
    session(9, { subject_kind: 'master', subject: 'master', oidc_subject: '', oidc_sid_hash: '' }),
  ];
  for (const r of rows) await writeSession(store, r);
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ids = (rs: SessionRecord[]): string[] => rs.map((r) => r.id_hash).sort();
const now = new Date(T0);
const openedBy = new Date(T0 + 60_000);

describe('liveSessionsFromOidc', () => {
  it('by provider session: only the sessions opened from it (and, given sub, of that subject)', async () => {
    expect(ids(await liveSessionsFromOidc(store, { sidHash: sidHashOf(ISS, 'sid-1'), openedBy }, now))).toEqual([hex(1)]);
    expect(ids(await liveSessionsFromOidc(store, { sidHash: sidHashOf(ISS, 'sid-1'), subject: `${ISS} ann`, openedBy }, now))).toEqual([hex(1)]);
    expect(await liveSessionsFromOidc(store, { sidHash: sidHashOf(ISS, 'sid-1'), subject: `${ISS} bob`, openedBy }, now)).toEqual([]);
  });

  it('by subject: every single sign-on session of that person from that provider, opened before the token', async () => {
    expect(ids(await liveSessionsFromOidc(store, { subject: `${ISS} ann`, openedBy }, now))).toEqual([hex(1), hex(2)]);
    expect(ids(await liveSessionsFromOidc(store, { subject: `${ISS} ann`, openedBy: new Date(T0 + 600_000) }, now))).toEqual([hex(1), hex(2), hex(8)]);
  });

  it('never a password or master-key session, even for an empty subject', async () => {
    expect(await liveSessionsFromOidc(store, { subject: '', openedBy }, now)).toEqual([]);
    expect(await liveSessionsFromOidc(store, { sidHash: '', openedBy }, now)).toEqual([]);
  });

  it('reads the new columns back as written', async () => {
    expect(await sessionByHash(store, hex(1))).toMatchObject({ oidc_subject: `${ISS} ann`, oidc_sid_hash: sidHashOf(ISS, 'sid-1') });
    expect(await sessionByHash(store, hex(3))).toMatchObject({ oidc_subject: '', oidc_sid_hash: '' });
  });
});

// Key, spend and audit queries against the real engine (chDB). One file on purpose: chDB
// allows one on-disk path per process and vitest gives each file its own process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { insertAudit, insertKeyVersion, keyByHash, keyById, listAudit, listKeys, spendByScope, type KeyRecord } from './keys.ts';

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-keys-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function hex64(): string {
  return (randomUUID() + randomUUID()).replaceAll('-', '').slice(0, 64);
}

function key(over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: `key_${randomUUID()}`,
    version: 1,
    key_hash: hex64(),
    key_prefix: 'gl-abcd…wxyz', previous_key_hash: '', previous_key_prefix: '', previous_valid_until: null, rotated_at: null, counter_salt: '',
    name: 'app-x',
    team: 'search',
    owner: 'alice',
    models: ['fast', 'smart'],
    budget_usd: 50,
    budget_period: 'monthly',
    rpm: 60,
    tpm: 100000,
    max_parallel: null,
    user_rpm: null,
    user_tpm: null,
    user_budget_usd: null,
    user_budget_period: 'none',
    require_user: false,
    expires_at: '2026-12-23T10:00:00.000Z',
    metadata: { env: 'prod' },
    revoked: false,
    created_at: '2026-11-23T10:00:00.000Z',
    updated_at: '2026-11-23T10:00:00.000Z',
    updated_by: 'master',
    ...over,
  };
}

describe('keys table', () => {
  it('round-trips a key and keeps only the latest version per id', async () => {
    const k = key();
    await insertKeyVersion(store, k);
    await insertKeyVersion(store, { ...k, version: 3, revoked: true, updated_at: '2026-11-23T11:00:00.000Z' });
    // An older version arriving late must not win.
    await insertKeyVersion(store, { ...k, version: 2, name: 'stale' });

    const got = await keyById(store, k.id);
    expect(got).toEqual({ ...k, version: 3, revoked: true, updated_at: '2026-11-23T11:00:00.000Z' });
    const all = await listKeys(store);
    expect(all.filter((r) => r.id === k.id)).toHaveLength(1);
    const active = await listKeys(store, { includeRevoked: false });
    expect(active.find((r) => r.id === k.id)).toBeUndefined();
  });

  it('finds a key by hash; nulls and non-hex input are handled', async () => {
    const k = key({ expires_at: null, budget_usd: null, budget_period: 'none', rpm: null, tpm: null, max_parallel: 4, models: [], metadata: {} });
    await insertKeyVersion(store, k);
    expect(await keyByHash(store, k.key_hash)).toEqual(k);
    expect(await keyByHash(store, hex64())).toBeNull();
    expect(await keyByHash(store, "' OR 1=1 --")).toBeNull();
  });

  it('stores the end-user limits (0026); a version written without them has none', async () => {
    const k = key({ user_rpm: 20, user_tpm: 4000, user_budget_usd: 0.5, user_budget_period: 'daily', require_user: true });
    await insertKeyVersion(store, k);
    expect(await keyById(store, k.id)).toMatchObject({ user_rpm: 20, user_tpm: 4000, user_budget_usd: 0.5, user_budget_period: 'daily', require_user: true });
    const { user_rpm: _a, user_tpm: _b, user_budget_usd: _c, user_budget_period: _d, require_user: _e, ...older } = key();
    await store.insertRaw('keys', Buffer.from(`${JSON.stringify(older)}\n`));
    expect(await keyById(store, older.id)).toMatchObject({ user_rpm: null, user_tpm: null, user_budget_usd: null, user_budget_period: 'none', require_user: false });
  });

  it('refuses to insert a malformed record', async () => {
    await expect(insertKeyVersion(store, key({ key_hash: 'gl-plaintext-secret' }))).rejects.toThrow(/SHA-256/);
  });
});

describe('spendByScope', () => {
  it('sums cost since the period start per key and team, skipping refused calls and other periods', async () => {
    const team = `t_${randomUUID().slice(0, 8)}`;
    const [k1, k2] = [`k1_${randomUUID()}`, `k2_${randomUUID()}`];
    const call = (keyId: string, at: string, cost: number | null, outcome = 'success') =>
      JSON.stringify({ request_id: randomUUID(), started_at: at, key_id: keyId, team, outcome, cost_usd: cost });
    const rows = [
      call(k1, '2026-11-02T00:00:00.000Z', 1.25),
      call(k1, '2026-11-20T12:00:00.000Z', 0.75),
      call(k1, '2026-11-20T12:00:01.000Z', 99, 'refused'),
      call(k1, '2026-10-31T23:59:59.999Z', 1000), // previous month
      call(k2, '2026-11-21T00:00:00.000Z', 2),
      call(k2, '2026-11-21T00:00:00.000Z', null), // unknown price counts as 0
    ];
    await store.insertRaw('llm_calls', Buffer.from(rows.join('\n') + '\n'));

    const since = new Date('2026-11-01T00:00:00Z');
    const byKey = await spendByScope(store, { scope: 'key', since, ids: [k1, k2] });
    expect(byKey).toEqual(expect.arrayContaining([{ id: k1, spent_usd: 2 }, { id: k2, spent_usd: 2 }]));
    expect(byKey).toHaveLength(2);
    const byTeam = await spendByScope(store, { scope: 'team', since, ids: [team] });
    expect(byTeam).toEqual([{ id: team, spent_usd: 4 }]);
    const later = await spendByScope(store, { scope: 'key', since: new Date('2026-11-21T00:00:00Z'), ids: [k1, k2] });
    expect(later).toEqual([{ id: k2, spent_usd: 2 }]);
  });
});

describe('admin_audit', () => {
  it('appends entries and lists them newest first', async () => {
    const target = `key_${randomUUID()}`;
    await insertAudit(store, { at: new Date('2026-11-23T10:00:00Z'), actor: 'master', action: 'key.create', targetType: 'key', target, details: { name: 'app-x' }, sourceIp: '127.0.0.1' });
    await insertAudit(store, { at: new Date('2026-11-23T10:05:00Z'), actor: 'master', action: 'key.revoke', targetType: 'key', target, details: {}, sourceIp: '::1' });
    const all = (await listAudit(store)).filter((a) => a.target === target);
    expect(all.map((a) => a.action)).toEqual(['key.revoke', 'key.create']);
    expect(all[1]).toMatchObject({ at: '2026-11-23T10:00:00.000Z', actor: 'master', target_type: 'key', source_ip: '127.0.0.1' });
    expect(JSON.parse(all[1]!.details)).toEqual({ name: 'app-x' });
    const revokes = await listAudit(store, { action: 'key.revoke' });
    expect(revokes.some((a) => a.target === target)).toBe(true);
  });
});

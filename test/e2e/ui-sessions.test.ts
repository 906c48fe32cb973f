// Server-side UI sessions against the real engine (chDB): idle and absolute expiry, master key
// rotation, revocation seen by another UI process within the cache time, a person's sessions
// revoked together; and the sign-in lockout's doubling.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig, migrate, openStore, type Store } from '@gatelog/core';
import { CACHE_MS, SESSION_IDLE_MS, SESSION_TTL_MS, createSessionService } from '../../ui/src/lib/server/session.server.ts';
import { ACCOUNT_POLICY, SignInLimiter } from '../../ui/src/lib/server/signin-limit.server.ts';

let store: Store;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-sessions-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
});
afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MASTER = 'master-key-sessions-unit';
const ctx = { ip: '127.0.0.1', userAgent: 'unit', masterKey: MASTER };
const master = { subject_kind: 'master' as const, subject: 'master', email: '', role: 'owner', teams: [] };
const person = (id: string) => ({ subject_kind: 'user' as const, subject: id, email: `${id}@example.com`, role: 'analyst', teams: ['red'] });

describe('session service', () => {
  it('expires on idle time and absolute time; touches extend idle only', async () => {
    let t = Date.parse('2026-12-01T00:00:00Z');
    const s = createSessionService(store, () => t);
    const id = await s.open(master, ctx);
    expect(await s.check(id, MASTER)).toMatchObject({ subject: 'master', role: 'owner' });
    t += SESSION_IDLE_MS - 1000;
    expect(await s.check(id, MASTER)).toBeDefined();
    t += SESSION_IDLE_MS - 1000; // used just in time: idle clock restarted at the last check
    expect(await s.check(id, MASTER)).toBeDefined();
    t += SESSION_IDLE_MS + 1;
    expect(await s.check(id, MASTER)).toBeUndefined();

    const id2 = await s.open(master, ctx);
    const opened = t;
    while (t < opened + SESSION_TTL_MS - SESSION_IDLE_MS) {
      t += SESSION_IDLE_MS / 2;
      expect(await s.check(id2, MASTER)).toBeDefined();
    }
    t = opened + SESSION_TTL_MS;
    expect(await s.check(id2, MASTER)).toBeUndefined();
  });

  it('a rotated master key ends master sessions', async () => {
    const s = createSessionService(store);
    const id = await s.open(master, ctx);
    expect(await s.check(id, MASTER)).toBeDefined();
    expect(await s.check(id, 'another-master-key')).toBeUndefined();
    // Revoked for good, even if the old key came back.
    expect(await s.check(id, MASTER)).toBeUndefined();
  });

  it('another process sees a revocation within the cache time; garbage cookies are refused', async () => {
    const a = createSessionService(store);
    const b = createSessionService(store);
    const id = await a.open(person('u-1'), ctx);
    expect(await b.check(id, MASTER)).toMatchObject({ subject: 'u-1', teams: ['red'] });
    expect(await a.revoke(id, 'signed_out')).toMatchObject({ subject: 'u-1' });
    expect(await a.check(id, MASTER)).toBeUndefined();
    await new Promise((r) => setTimeout(r, CACHE_MS + 100));
    expect(await b.check(id, MASTER)).toBeUndefined();
    for (const bad of [undefined, '', 'x', `${id}x`, "' OR 1=1 --"]) expect(await a.check(bad, MASTER)).toBeUndefined();
  });

  it('revokes every session of a person at once', async () => {
    const s = createSessionService(store);
    const ids = [await s.open(person('u-2'), ctx), await s.open(person('u-2'), ctx)];
    const other = await s.open(person('u-3'), ctx);
    expect(await s.revokeSubject('u-2', 'disabled')).toBe(2);
    for (const id of ids) expect(await s.check(id, MASTER)).toBeUndefined();
    expect(await s.check(other, MASTER)).toBeDefined();
  });
});

describe('sign-in lockout', () => {
  it('locks after the free failures, doubling, and a success clears it', () => {
    let t = 0;
    const l = new SignInLimiter(() => t);
    const k = [['account:a', ACCOUNT_POLICY]] as const;
    const locks: number[] = [];
    for (let i = 0; i < 7; i++) locks.push(l.fail(k));
    expect(locks).toEqual([0, 0, 0, 0, 30_000, 60_000, 120_000]);
    expect(l.retryAfterMs(['account:a'])).toBe(120_000);
    t += 120_000;
    expect(l.retryAfterMs(['account:a'])).toBe(0);
    l.succeed(['account:a']);
    expect(l.fail(k)).toBe(0);
    for (let i = 0; i < 40; i++) l.fail(k);
    expect(l.retryAfterMs(['account:a'])).toBe(ACCOUNT_POLICY.maxMs);
  });
});

// The admin API decides what a request needs from the route it reaches, not from how its path
// is spelled: the router decodes percent-escapes before matching, so `/admin/%75i/users` is
// `/admin/ui/users` (master key only) and `/admin/%61udit` is `/admin/audit` (audit.read).
// buildProxy on 127.0.0.1:0 with real chDB, machine tokens made through the API.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, migrate, openStore, parseConfig, type Store } from '@gatelog/core';
import { userByEmail } from '@gatelog/core/store/users';

const MASTER = 'master-key-for-admin-path-tests';
const tag = randomUUID().slice(0, 8);

let app: FastifyInstance;
let store: Store;
let dir: string;
let url: string;

function api(path: string, key: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
}

async function token(role: string): Promise<string> {
  const r = await api('/admin/tokens', MASTER, { method: 'POST', body: JSON.stringify({ name: `${role}-${tag}`, role, teams: [] }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { secret: string }).secret;
}

async function errorCode(r: Response): Promise<string> {
  return ((await r.json()) as { error: { code: string } }).error.code;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-admin-path-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('admin permissions follow the route, however its path is spelled', () => {
  it('an admin token cannot write people rows through a percent-encoded /admin/ui/ path', async () => {
    const admin = await token('admin');
    const now = new Date().toISOString().replace('T', ' ').slice(0, 23);
    const email = `owner-${tag}@example.com`;
    const forged = {
      id: randomUUID(), version: 1, email, name: 'forged', role: 'owner', teams: [], auth_source: 'local',
      password_hash: '', invite_hash: '', invite_expires_at: null, disabled: false, created_at: now, updated_at: now, updated_by: 'x',
    };
    for (const path of ['/admin/ui/users', '/admin/%75i/users', '/admin/%75%69/users', '/admin/u%69/users']) {
      const r = await api(path, admin, { method: 'POST', body: JSON.stringify(forged) });
      expect(r.status, path).toBe(403);
      expect(await errorCode(r), path).toBe('master_only');
    }
    expect(await userByEmail(store, email)).toBeUndefined();
    // The master key still reaches the route whichever way it is spelled.
    expect((await api('/admin/%75i/users', MASTER, { method: 'POST', body: JSON.stringify(forged) })).status).toBe(204);
    expect((await userByEmail(store, email))?.role).toBe('owner');
  });

  it('an admin token (no audit.read) cannot read or write the audit trail through an encoded path', async () => {
    const admin = await token('admin');
    for (const path of ['/admin/audit', '/admin/%61udit', '/admin/%61udit/chain']) {
      const r = await api(path, admin);
      expect(r.status, path).toBe(403);
      expect(await errorCode(r), path).toBe('role_forbidden');
    }
    const write = await api('/admin/%61udit', admin, { method: 'POST', body: JSON.stringify({ action: 'a.b', actor: 'x' }) });
    expect(write.status).toBe(403);
    expect(await errorCode(write)).toBe('master_only');
    const auditor = await token('auditor');
    expect((await api('/admin/%61udit', auditor)).status).toBe(200);
  });

  it('a viewer reads alerts like dashboards, and cannot change a rule', async () => {
    const viewer = await token('viewer');
    for (const path of ['/admin/alerts/rules', '/admin/alerts/events', '/admin/%61lerts/rules']) expect((await api(path, viewer)).status, path).toBe(200);
    const rule = { kind: 'error_rate', threshold: 50, window_s: 300, channels: [] };
    for (const path of ['/admin/alerts/rules', '/admin/%61lerts/rules']) {
      const r = await api(path, viewer, { method: 'POST', body: JSON.stringify(rule) });
      expect(r.status, path).toBe(403);
      expect(await errorCode(r), path).toBe('role_forbidden');
    }
  });

  it('a viewer cannot reach a call body or a key change through encoded paths', async () => {
    const viewer = await token('viewer');
    const r = await api(`/admin/c%61lls/${randomUUID()}`, viewer);
    expect(r.status).toBe(403);
    expect(await errorCode(r)).toBe('role_forbidden');
    const del = await api(`/admin/%6Beys/${randomUUID()}`, viewer, { method: 'DELETE' });
    expect(del.status).toBe(403);
  });
});

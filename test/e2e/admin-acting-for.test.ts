// The UI holds the master key and calls the admin API for the person signed in, naming them in
// x-gatelog-acting-for: the API then checks that person's role and team scope and audits them,
// as for their own token. Only the master key's holder may name someone; a token's header is
// ignored. buildProxy on 127.0.0.1:0 with real chDB.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, parseConfig } from '@gatelog/core';
import { ACTING_FOR_HEADER, actingForValue } from '@gatelog/core/acting-for';
import type { Role } from '@gatelog/core/roles';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';

const MASTER = 'master-key-for-acting-for-tests';
const tag = randomUUID().slice(0, 8);

let app: FastifyInstance;
let db: TempStore;
let url: string;

const person = (role: Role, teams: string[] = []) => ({ name: `${role}-${tag}@example.com`, role, teams });

function api(method: string, path: string, key: string, body?: object, acting?: string): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}), ...(acting !== undefined ? { [ACTING_FOR_HEADER]: acting } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function errorOf(r: Response): Promise<{ code: string; type: string }> {
  return ((await r.json()) as { error: { code: string; type: string } }).error;
}

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-acting-for');
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store: db.store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  await db.close();
});

describe('the master key acting for a person', () => {
  it("checks the person's role and teams, and audits the person", async () => {
    const viewer = await api('POST', '/admin/keys', MASTER, { name: `v-${tag}`, team: 'red' }, actingForValue(person('viewer')));
    expect(viewer.status).toBe(403);
    expect(await errorOf(viewer)).toMatchObject({ code: 'role_forbidden', type: 'permission_error' });

    const red = actingForValue(person('admin', ['red']));
    const blue = await api('POST', '/admin/keys', MASTER, { name: `b-${tag}`, team: 'blue' }, red);
    expect(blue.status).toBe(403);
    expect(await errorOf(blue)).toMatchObject({ code: 'team_out_of_scope' });

    const made = await api('POST', '/admin/keys', MASTER, { name: `r-${tag}`, team: 'red' }, red);
    expect(made.status).toBe(201);
    const id = ((await made.json()) as { key: { id: string } }).key.id;
    const rows = (await listAudit(db.store, { action: 'key.create', limit: 100 })).filter((r) => r.target === id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: `admin-${tag}@example.com`, role: 'admin' });

    // Master-only routes stay the master key's own: naming a person gives that up.
    const audit = await api('POST', '/admin/audit', MASTER, { action: 'a.b', actor: 'x' }, actingForValue(person('owner')));
    expect(audit.status).toBe(403);
    expect(await errorOf(audit)).toMatchObject({ code: 'master_only' });
  });

  it('refuses a malformed header with 400', async () => {
    for (const bad of ['not base64 json', Buffer.from('{"name":"x","role":"emperor","teams":[]}').toString('base64url'), Buffer.from('{"name":"x"}').toString('base64url')]) {
      const r = await api('GET', '/admin/keys', MASTER, undefined, bad);
      expect(r.status, bad).toBe(400);
      expect((await errorOf(r)).code).toBe('invalid_acting_for');
    }
  });

  it("ignores the header from a token: it acts as itself, never as the person it names", async () => {
    const t = await api('POST', '/admin/tokens', MASTER, { name: `viewer-${tag}`, role: 'viewer', teams: [] });
    expect(t.status).toBe(201);
    const secret = ((await t.json()) as { secret: string }).secret;
    const r = await api('POST', '/admin/keys', secret, { name: `t-${tag}`, team: '' }, actingForValue(person('owner')));
    expect(r.status).toBe(403);
    expect(await errorOf(r)).toMatchObject({ code: 'role_forbidden' });
  });
});

// Team scope on people and machine tokens through the admin API (buildProxy on 127.0.0.1:0, real
// chDB): an admin token scoped to team red lists red's people and tokens only, and may not lift
// its scope (`teams: []`), move anyone into another team, mint an all-teams token, revoke
// another team's token, or take a one-time sign-in link for another team's person (which would
// hand it that account). Each refusal is 403 permission_error `team_out_of_scope` and changes
// nothing; within red it works as before, and the master key is not limited.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, parseConfig } from '@gatelog/core';
import { tokenById, userById } from '@gatelog/core/store/users';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;

let app: FastifyInstance;
let db: TempStore;
let url: string;
let redAdmin: string;
const ids = new Map<string, string>();

interface ApiError { error: { type: string; code: string; param: string | null } }

function api(path: string, key: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function created<T>(res: Response): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as T;
}

async function refusedForTeam(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(403);
  expect((JSON.parse(text) as ApiError).error).toMatchObject({ type: 'permission_error', code: 'team_out_of_scope', param: 'teams' });
  expect(text).not.toContain('gli-');
  expect(text).not.toContain('glt-');
}

const person = async (name: string, role: string, teams: string[]): Promise<void> => {
  const r = await created<{ user: { id: string } }>(await api('/admin/users', MASTER, 'POST', { email: `${name}-${tag}@example.com`, role, teams }));
  ids.set(name, r.user.id);
};
const machine = async (name: string, role: string, teams: string[]): Promise<string> => {
  const r = await created<{ token: { id: string }; secret: string }>(await api('/admin/tokens', MASTER, 'POST', { name: `${name}-${tag}`, role, teams }));
  ids.set(name, r.token.id);
  return r.secret;
};

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-people-scope');
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store: db.store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  redAdmin = await machine('red-admin', 'admin', [RED]);
  await machine('blue-bot', 'viewer', [BLUE]);
  await person('red-viewer', 'viewer', [RED]);
  await person('blue-viewer', 'viewer', [BLUE]);
  await person('both-viewer', 'viewer', [RED, BLUE]);
  await person('all-admin', 'admin', []);
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

const id = (name: string): string => ids.get(name)!;

describe('a team-scoped admin token', () => {
  it('lists the people and tokens of its own team only', async () => {
    const people = ((await (await api('/admin/users', redAdmin)).json()) as { data: { id: string }[] }).data.map((u) => u.id);
    expect(people).toContain(id('red-viewer'));
    for (const other of ['blue-viewer', 'both-viewer', 'all-admin']) expect(people, other).not.toContain(id(other));
    const tokens = ((await (await api('/admin/tokens', redAdmin)).json()) as { data: { id: string }[] }).data.map((t) => t.id);
    expect(tokens).toEqual([id('red-admin')]);
  });

  it('may not create a person or token for every team or for another team', async () => {
    await refusedForTeam(await api('/admin/users', redAdmin, 'POST', { email: `all-${tag}@example.com`, role: 'admin' }));
    await refusedForTeam(await api('/admin/users', redAdmin, 'POST', { email: `blue-${tag}@example.com`, role: 'viewer', teams: [BLUE] }));
    await refusedForTeam(await api('/admin/tokens', redAdmin, 'POST', { name: `all-${tag}`, role: 'admin' }));
    await refusedForTeam(await api('/admin/tokens', redAdmin, 'POST', { name: `both-${tag}`, role: 'admin', teams: [RED, BLUE] }));
  });

  it('may not widen a person\'s teams, nor take a sign-in link for another team\'s person', async () => {
    await refusedForTeam(await api(`/admin/users/${id('red-viewer')}`, redAdmin, 'PATCH', { teams: [] }));
    await refusedForTeam(await api(`/admin/users/${id('red-viewer')}`, redAdmin, 'PATCH', { teams: [BLUE] }));
    for (const other of ['blue-viewer', 'both-viewer', 'all-admin']) {
      await refusedForTeam(await api(`/admin/users/${id(other)}`, redAdmin, 'PATCH', { new_link: true }));
      expect((await userById(db.store, id(other)))?.version, other).toBe(1);
    }
    await refusedForTeam(await api(`/admin/tokens/${id('blue-bot')}`, redAdmin, 'DELETE'));
    expect((await tokenById(db.store, id('blue-bot')))?.revoked).toBe(false);
  });

  it('manages its own team as before', async () => {
    const made = await created<{ user: { teams: string[] }; sign_in_path: string }>(await api('/admin/users', redAdmin, 'POST', { email: `new-red-${tag}@example.com`, role: 'analyst', teams: [RED] }));
    expect(made.user.teams).toEqual([RED]);
    expect(made.sign_in_path).toMatch(/^\/login\/invite\?token=gli-/);
    const relinked = await api(`/admin/users/${id('red-viewer')}`, redAdmin, 'PATCH', { role: 'analyst', new_link: true });
    expect(relinked.status).toBe(200);
    expect(((await relinked.json()) as { sign_in_path?: string }).sign_in_path).toMatch(/^\/login\/invite\?token=gli-/);
    const tok = await created<{ token: { id: string } }>(await api('/admin/tokens', redAdmin, 'POST', { name: `red-bot-${tag}`, role: 'viewer', teams: [RED] }));
    expect((await api(`/admin/tokens/${tok.token.id}`, redAdmin, 'DELETE')).status).toBe(200);
  });
});

describe('the master key', () => {
  it('is not limited by teams', async () => {
    const people = ((await (await api('/admin/users', MASTER)).json()) as { data: { id: string }[] }).data.map((u) => u.id);
    for (const name of ['red-viewer', 'blue-viewer', 'both-viewer', 'all-admin']) expect(people, name).toContain(id(name));
    expect((await api(`/admin/users/${id('blue-viewer')}`, MASTER, 'PATCH', { teams: [], new_link: true })).status).toBe(200);
    expect((await api(`/admin/tokens/${id('blue-bot')}`, MASTER, 'DELETE')).status).toBe(200);
  });
});

// Deleting a person (DELETE /admin/users/:id, `gatelog users delete ID`) through a real proxy
// (buildProxy on 127.0.0.1:0, real chDB): every version of their record goes (email, name,
// password and sign-in link hashes), their sessions end at once and no longer say who or from
// where, the deletion is audited without repeating the address, and the address is free again.
// Refused: another team's person for a team-scoped admin, an owner for a non-owner, a person the
// identity provider still provisions, oneself, a person a legal hold of the audit trail names (or
// all of it) until it is lifted; unknown and malformed ids.
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, parseConfig } from '@gatelog/core';
import { PeopleError, erasePerson } from '@gatelog/core/people';
import { sessionByHash, writeSession } from '@gatelog/core/store/sessions';
import { insertUserVersion, userById } from '@gatelog/core/store/users';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';
import { runCli } from '../support/cli.ts';
import { newMachineToken } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;

let app: FastifyInstance;
let db: TempStore;
let url: string;

function api(path: string, key: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function person(name: string, role: string, teams: string[]): Promise<{ id: string; email: string }> {
  const email = `${name}-${tag}@example.com`;
  const r = await api('/admin/users', MASTER, 'POST', { email, role, teams, name: `Name of ${name}` });
  expect(r.status, await r.clone().text()).toBe(201);
  return { id: ((await r.json()) as { user: { id: string } }).user.id, email };
}

async function openSession(subject: string, email: string): Promise<string> {
  const idHash = createHash('sha256').update(randomUUID()).digest('hex');
  const now = new Date();
  await writeSession(db.store, {
    id_hash: idHash, version: now.getTime(), subject_kind: 'user', subject, email, role: 'analyst', teams: [RED], master_tag: '', oidc_subject: '', oidc_sid_hash: '',
    created_at: now.toISOString(), last_seen_at: now.toISOString(), expires_at: new Date(now.getTime() + 3_600_000).toISOString(), revoked: false, revoked_reason: '',
    source_ip: '203.0.113.9', user_agent: 'Firefox/130',
  });
  return idHash;
}

async function rowsMentioning(table: string, text: string): Promise<number> {
  const rs = await db.store.client.query({ query: `SELECT count() AS n FROM gatelog.${table} WHERE position(toString(tuple(*)), {t:String}) > 0`, query_params: { t: text }, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-people-delete');
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store: db.store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('deleting a person', () => {
  it('removes every version of their record, ends their sessions and forgets who and from where, audits it, and frees the address', async () => {
    const p = await person('leaver', 'analyst', [RED]);
    // A second version (a rename) and two sessions.
    expect((await api(`/admin/users/${p.id}`, MASTER, 'PATCH', { name: 'Renamed Leaver' })).status).toBe(200);
    const sessions = [await openSession(p.id, p.email), await openSession(p.id, p.email)];
    expect(await rowsMentioning('ui_users', p.email)).toBeGreaterThanOrEqual(2);

    const r = await api(`/admin/users/${p.id}`, MASTER, 'DELETE');
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await r.json()).toEqual({ id: p.id, object: 'user', deleted: true, sessions_ended: 2 });

    expect(await userById(db.store, p.id)).toBeUndefined();
    expect(await rowsMentioning('ui_users', p.id)).toBe(0);
    expect(await rowsMentioning('ui_users', p.email)).toBe(0);
    for (const h of sessions) expect(await sessionByHash(db.store, h)).toMatchObject({ revoked: true, revoked_reason: 'deleted', email: '', source_ip: '', user_agent: '' });
    expect(await rowsMentioning('ui_sessions', p.email)).toBe(0);
    expect(await rowsMentioning('ui_sessions', '203.0.113.9')).toBe(0);
    const listed = (await (await api('/admin/users', MASTER)).json()) as { data: { id: string }[] };
    expect(listed.data.map((u) => u.id)).not.toContain(p.id);

    const [row] = await listAudit(db.store, { action: 'person.erase' });
    expect(row).toMatchObject({ actor: 'master', target_type: 'person', target: p.id });
    expect(JSON.parse(row!.details)).toMatchObject({ role: 'analyst', teams: [RED], sessions_ended: 2 });
    expect(row!.details).not.toContain(p.email);
    // A red-scoped auditor still sees the rows about the deleted red person (their creation and deletion); a blue one does not.
    const aboutLeaver = (rows: { target: string; action: string }[]): string[] => rows.filter((x) => x.target === p.id).map((x) => x.action).sort();
    expect(aboutLeaver(await listAudit(db.store, { teams: [RED], limit: 1000 }))).toEqual(['person.create', 'person.erase', 'person.update']);
    expect(aboutLeaver(await listAudit(db.store, { teams: [BLUE], limit: 1000 }))).toEqual([]);

    // Gone is gone: a second delete is a 404, and the address can be given to a new person.
    expect((await api(`/admin/users/${p.id}`, MASTER, 'DELETE')).status).toBe(404);
    expect((await api('/admin/users', MASTER, 'POST', { email: p.email, role: 'viewer' })).status).toBe(201);
  });

  it('is refused for another team\'s person, an owner by a non-owner, a person the provider provisions, and oneself', async () => {
    const blue = await person('blue', 'viewer', [BLUE]);
    const owner = await person('boss', 'owner', []);
    const redAdmin = await newMachineToken(url, MASTER, 'admin', [RED]);
    const admin = await newMachineToken(url, MASTER, 'admin');
    const viewer = await newMachineToken(url, MASTER, 'viewer');
    const code = async (res: Response): Promise<[number, string]> => [res.status, ((await res.json()) as { error: { code: string } }).error.code];

    expect(await code(await api(`/admin/users/${blue.id}`, redAdmin, 'DELETE'))).toEqual([403, 'team_out_of_scope']);
    expect(await code(await api(`/admin/users/${owner.id}`, admin, 'DELETE'))).toEqual([403, 'role_forbidden']);
    expect(await code(await api(`/admin/users/${blue.id}`, viewer, 'DELETE'))).toEqual([403, 'role_forbidden']);
    expect(await code(await api('/admin/users/usr_nobody', MASTER, 'DELETE'))).toEqual([404, 'user_not_found']);
    expect(await code(await api('/admin/users/bad%20id', MASTER, 'DELETE'))).toEqual([400, 'invalid_id']);
    expect((await userById(db.store, blue.id))?.disabled).toBe(false);

    const scim = await person('provisioned', 'viewer', []);
    const cur = (await userById(db.store, scim.id))!;
    await insertUserVersion(db.store, { ...cur, version: cur.version + 1, auth_source: 'oidc', scim_external_id: `ext-${tag}`, scim_state: 'managed' });
    expect(await code(await api(`/admin/users/${scim.id}`, MASTER, 'DELETE'))).toEqual([409, 'scim_managed']);

    const self = (await userById(db.store, owner.id))!;
    const acting = { by: { kind: 'user' as const, id: self.id, name: self.email, role: 'owner' as const, teams: [] }, sourceIp: '127.0.0.1', userAgent: 'test', now: Date.now() };
    await expect(erasePerson(db.store, acting, self)).rejects.toMatchObject({ status: 409, code: 'cannot_delete_self' } satisfies Partial<PeopleError>);
    expect(await userById(db.store, owner.id)).toBeDefined();
  });

  it('is refused while a legal hold of the audit trail names the person or all of it, and goes once it is lifted', async () => {
    const p = await person('held', 'viewer', []);
    const other = await person('unheld', 'viewer', []);
    const refusal = async (): Promise<void> => {
      const r = await api(`/admin/users/${p.id}`, MASTER, 'DELETE');
      expect(r.status).toBe(409);
      expect(((await r.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', code: 'legal_hold', param: 'id', message: expect.stringContaining('lift the hold first') });
    };
    const placed = await api('/admin/holds', MASTER, 'POST', { kind: 'audit', value: p.email.toUpperCase(), reason: 'case 2026-17' });
    expect(placed.status, await placed.clone().text()).toBe(201);
    const hold = ((await placed.json()) as { hold: { id: string } }).hold.id;
    await refusal();
    // Disabling stays allowed, and the hold is of this person only.
    expect((await api(`/admin/users/${p.id}`, MASTER, 'PATCH', { disabled: true })).status).toBe(200);
    expect((await api(`/admin/users/${other.id}`, MASTER, 'DELETE')).status).toBe(200);
    expect((await api(`/admin/holds/${hold}`, MASTER, 'DELETE')).status).toBe(200);

    // A hold of the whole trail, placed and lifted with the CLI.
    const env = { GATELOG_MASTER_KEY: MASTER };
    const run = await runCli(['holds', 'place', '--kind', 'audit', '--value', '*', '--reason', 'investigation 9', '--url', url], env);
    expect(run.code, run.stderr).toBe(0);
    const whole = /placed (hold_\S+)/.exec(run.stdout)?.[1];
    expect(whole).toBeDefined();
    await refusal();
    expect(await userById(db.store, p.id)).toBeDefined();
    expect((await runCli(['holds', 'lift', whole!, '--url', url], env)).stdout).toContain(`lifted ${whole}`);
    const r = await api(`/admin/users/${p.id}`, MASTER, 'DELETE');
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await userById(db.store, p.id)).toBeUndefined();
  }, 60_000);

  it('`gatelog users delete ID` deletes through the admin API', async () => {
    const p = await person('cli', 'viewer', []);
    const run = await runCli(['users', 'delete', p.id, '--url', url], { GATELOG_MASTER_KEY: MASTER });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`deleted: ${p.id} (0 sessions ended)`);
    expect(await userById(db.store, p.id)).toBeUndefined();
  }, 60_000);
});

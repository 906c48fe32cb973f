// Team scope over the admin API (buildProxy on 127.0.0.1:0, real chDB), with machine tokens
// scoped to teams: a red admin keeps its keys in red (cannot create one in blue or in no team,
// cannot move one to blue, cannot touch blue's); a red auditor reads the audit rows about red's
// keys, calls and people and the actions of red's people, never blue's or an unscoped person's
// (their search texts included), and may not pull the whole chain.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { appendAudit, createLogger, newRequestId, parseConfig, type AuditRow } from '@gatelog/core';
import { insertUserVersion, type UserRecord } from '@gatelog/core/store/users';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const T0 = Date.now() - 3_600_000;
const min = (n: number): Date => new Date(T0 + n * 60_000);

let app: FastifyInstance;
let db: TempStore;
let url: string;
const tokens: Record<string, string> = {};
const tokenIds: Record<string, string> = {};
const calls = { red: newRequestId(), blue: newRequestId() };

interface KeyView {
  id: string;
  version: number;
  team: string;
}
interface ApiError {
  error: { type: string; code: string; param: string | null; message: string };
}

function api(method: string, path: string, body?: unknown, key = MASTER): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function createKey(team: string, key = MASTER): Promise<KeyView> {
  const r = await api('POST', '/admin/keys', { name: `k-${team || 'none'}-${tag}`, ...(team ? { team } : {}) }, key);
  expect(r.status, await r.clone().text()).toBe(201);
  return ((await r.json()) as { key: KeyView }).key;
}

async function refusal(r: Response, status: number, code: string): Promise<ApiError['error']> {
  expect(r.status).toBe(status);
  const e = ((await r.json()) as ApiError).error;
  expect(e.code).toBe(code);
  return e;
}

function person(email: string, teams: string[], version: number, at: Date): UserRecord {
  return {
    id: `usr_${email.split('@')[0]!}_${tag}`, version, email, name: '', role: 'analyst', teams, auth_source: 'local', oidc_subject: '', scim_external_id: '', scim_state: '', password_hash: '', invite_hash: '',
    invite_expires_at: null, disabled: false, created_at: min(0).toISOString(), updated_at: at.toISOString(), updated_by: 'master',
  };
}

const email = (name: string): string => `${name}-${tag}@example.com`;
const search = (actor: string, text: string, at: Date): Promise<AuditRow> =>
  appendAudit(db.store, { actor, role: 'analyst', action: 'calls.search', targetType: 'llm_calls', target: '', details: { text }, at });

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-team-scope');
  const event = (id: string, team: string): string => JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: id, started_at: min(0).toISOString(), user: '', key_id: '', key_name: '', team,
    requested_model: 'm', provider: 'p', status: 200, outcome: 'success', input_tokens: 1, output_tokens: 1, cost_usd: 0, latency_ms: 1, attempts: [], tags: {},
    request_body: '{}', response_body: '{}',
  });
  await db.store.insertRaw('llm_calls', Buffer.from(`${event(calls.red, 'red')}\n${event(calls.blue, 'blue')}`));
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store: db.store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  for (const [name, role, teams] of [['red-admin', 'admin', ['red']], ['red-blue-admin', 'admin', ['red', 'blue']], ['red-auditor', 'auditor', ['red']], ['auditor', 'auditor', []]] as const) {
    const r = await api('POST', '/admin/tokens', { name: `${name}-${tag}`, role, teams });
    expect(r.status).toBe(201);
    const b = (await r.json()) as { secret: string; token: { id: string } };
    tokens[name] = b.secret;
    tokenIds[name] = b.token.id;
  }
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('keys: a team-scoped admin keeps its keys in its teams', () => {
  it('creates keys in its own team only: not in another team, not without a team', async () => {
    const a = tokens['red-admin']!;
    const e = await refusal(await api('POST', '/admin/keys', { name: `x-${tag}`, team: 'blue' }, a), 403, 'team_out_of_scope');
    expect(e).toMatchObject({ type: 'permission_error', param: 'team' });
    await refusal(await api('POST', '/admin/keys', { name: `x-${tag}` }, a), 403, 'team_out_of_scope');
    expect((await createKey('red', a)).team).toBe('red');
    // Neither refused key was made.
    const listed = ((await (await api('GET', '/admin/keys')).json()) as { data: (KeyView & { name: string })[] }).data;
    expect(listed.filter((k) => k.name === `x-${tag}`)).toHaveLength(0);
  });

  it('cannot move its key into another team or out of every team; the key stays as it was', async () => {
    const a = tokens['red-admin']!;
    const key = await createKey('red', a);
    const e = await refusal(await api('PATCH', `/admin/keys/${key.id}`, { team: 'blue' }, a), 403, 'team_out_of_scope');
    expect(e).toMatchObject({ type: 'permission_error', param: 'team' });
    await refusal(await api('PATCH', `/admin/keys/${key.id}`, { team: '' }, a), 403, 'team_out_of_scope');
    const now = ((await (await api('GET', `/admin/keys/${key.id}`)).json()) as { key: KeyView }).key;
    expect(now).toMatchObject({ team: 'red', version: key.version });
    // Other changes, and moves between its own teams, go through.
    expect((await api('PATCH', `/admin/keys/${key.id}`, { rpm: 7 }, a)).status).toBe(200);
    const moved = await api('PATCH', `/admin/keys/${key.id}`, { team: 'blue' }, tokens['red-blue-admin']);
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as { key: KeyView }).key.team).toBe('blue');
  });

  it("another team's key does not exist for it", async () => {
    const blue = await createKey('blue');
    const a = tokens['red-admin']!;
    await refusal(await api('PATCH', `/admin/keys/${blue.id}`, { team: 'red' }, a), 404, 'key_not_found');
    await refusal(await api('DELETE', `/admin/keys/${blue.id}`, undefined, a), 404, 'key_not_found');
    expect(((await (await api('GET', `/admin/keys/${blue.id}`)).json()) as { key: KeyView & { revoked: boolean } }).key).toMatchObject({ team: 'blue', revoked: false });
  });
});

describe('audit: a team-scoped auditor reads the rows about its teams', () => {
  const seen: Record<string, string> = {};

  beforeAll(async () => {
    // ana is red, bo is blue, cy was blue and moved to red at minute 10.
    await insertUserVersion(db.store, person(email('ana'), ['red'], 1, min(0)));
    await insertUserVersion(db.store, person(email('bo'), ['blue'], 1, min(0)));
    await insertUserVersion(db.store, person(email('cy'), ['blue'], 1, min(0)));
    await insertUserVersion(db.store, person(email('cy'), ['red'], 2, min(10)));
    const rows: [string, Promise<AuditRow>][] = [
      ['ana search (red person)', search(email('ana'), `ana-red-${tag}`, min(1))],
      ['cy search after moving to red', search(email('cy'), `cy-red-${tag}`, min(20))],
      ['bo search (blue person)', search(email('bo'), `bo-blue-${tag}`, min(1))],
      ['cy search while blue', search(email('cy'), `cy-blue-${tag}`, min(5))],
      ['owner search (every team)', search('owner@example.com', `owner-all-${tag}`, min(2))],
      ['red call view', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'call.view', targetType: 'call', target: calls.red, at: min(3) })],
      ['blue call view', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'call.view', targetType: 'call', target: calls.blue, at: min(3) })],
      ['trace view with a red call', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'trace.view', targetType: 'trace', target: `t1-${tag}`, details: { calls: [calls.blue, calls.red] }, at: min(3) })],
      ['trace view of blue calls', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'trace.view', targetType: 'trace', target: `t2-${tag}`, details: { calls: [calls.blue] }, at: min(3) })],
      ['red person changed', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'person.update', targetType: 'person', target: person(email('ana'), [], 1, min(0)).id, at: min(4) })],
      ['blue person changed', appendAudit(db.store, { actor: 'master', role: 'owner', action: 'person.update', targetType: 'person', target: person(email('bo'), [], 1, min(0)).id, at: min(4) })],
    ];
    for (const [what, row] of rows) seen[what] = (await row).id;
    const red = await createKey('red');
    const blue = await createKey('blue');
    const ids = async (action: string, target: string): Promise<string> => {
      const r = (await (await api('GET', `/admin/audit?action=${action}&limit=1000`)).json()) as { data: AuditRow[] };
      return r.data.find((x) => x.target === target)!.id;
    };
    seen['red key created'] = await ids('key.create', red.id);
    seen['blue key created'] = await ids('key.create', blue.id);
    seen['red token created'] = await ids('token.create', tokenIds['red-admin']!);
    seen['unscoped token created'] = await ids('token.create', tokenIds['auditor']!);
  });

  const visibleToRed = ['ana search (red person)', 'cy search after moving to red', 'red call view', 'trace view with a red call', 'red person changed', 'red key created', 'red token created'];
  const hiddenFromRed = ['bo search (blue person)', 'cy search while blue', 'owner search (every team)', 'blue call view', 'trace view of blue calls', 'blue person changed', 'blue key created', 'unscoped token created'];

  it('GET /admin/audit: red rows and red people\'s actions only, no other search text', async () => {
    const res = await api('GET', '/admin/audit?limit=1000', undefined, tokens['red-auditor']);
    expect(res.status).toBe(200);
    const text = await res.clone().text();
    const got = new Set(((await res.json()) as { data: AuditRow[] }).data.map((r) => r.id));
    for (const what of visibleToRed) expect(got.has(seen[what]!), what).toBe(true);
    for (const what of hiddenFromRed) expect(got.has(seen[what]!), what).toBe(false);
    for (const t of [`bo-blue-${tag}`, `cy-blue-${tag}`, `owner-all-${tag}`]) expect(text).not.toContain(t);
    // Filters and pages still apply within the scope.
    const searches = ((await (await api('GET', '/admin/audit?action=calls.search&limit=1', undefined, tokens['red-auditor'])).json()) as { data: AuditRow[] }).data;
    expect(searches.map((r) => r.id)).toEqual([seen['cy search after moving to red']]);
  });

  it('a red token named like an unscoped one cannot pass that one\'s actions off as red\'s', async () => {
    const name = `dup-${tag}`;
    for (const teams of [[], ['red']]) expect((await api('POST', '/admin/tokens', { name, role: 'analyst', teams })).status).toBe(201);
    const text = `dup-search-${tag}`;
    const row = await search(`token:${name}`, text, new Date());
    const red = ((await (await api('GET', '/admin/audit?action=calls.search&limit=1000', undefined, tokens['red-auditor'])).json()) as { data: AuditRow[] }).data;
    expect(red.map((r) => r.id)).not.toContain(row.id);
    expect(JSON.stringify(red)).not.toContain(text);
    const all = ((await (await api('GET', '/admin/audit?action=calls.search&limit=1000', undefined, tokens['auditor'])).json()) as { data: AuditRow[] }).data;
    expect(all.map((r) => r.id)).toContain(row.id);
  });

  it('an auditor of every team reads every row', async () => {
    const got = new Set(((await (await api('GET', '/admin/audit?limit=1000', undefined, tokens['auditor'])).json()) as { data: AuditRow[] }).data.map((r) => r.id));
    for (const what of [...visibleToRed, ...hiddenFromRed]) expect(got.has(seen[what]!), what).toBe(true);
  });

  it('the whole chain is for auditors of every team', async () => {
    const e = await refusal(await api('GET', '/admin/audit/chain', undefined, tokens['red-auditor']), 403, 'team_out_of_scope');
    expect(e.type).toBe('permission_error');
    const all = await api('GET', '/admin/audit/chain', undefined, tokens['auditor']);
    expect(all.status).toBe(200);
    expect(await all.text()).toContain(`bo-blue-${tag}`);
  });
});

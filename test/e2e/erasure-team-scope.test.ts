// Erasure and legal holds over the admin API with a team-scoped admin token (buildProxy on
// 127.0.0.1:0, real chDB): a red admin's erasure reaches red's calls only, whatever its selector,
// and says so in its receipt and audit row; it places holds within red only, lists only red's
// holds, and lifts none (lifting a legal hold is for unscoped callers). The master key keeps
// reaching every team. Holds of the audit trail, which is not divided by team, are for unscoped
// callers only and name no teams.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, newRequestId, parseConfig } from '@gatelog/core';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const TEAMS = ['red', 'blue', ''] as const;

let app: FastifyInstance;
let db: TempStore;
let url: string;
let red = '';

interface Hold {
  id: string;
  kind: string;
  value: string;
  teams?: string[];
  active: boolean;
}
interface ApiError {
  error: { type: string; code: string; param: string | null };
}

function api(method: string, path: string, body?: unknown, key = MASTER): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function refused(r: Response): Promise<void> {
  expect(r.status).toBe(403);
  expect(((await r.json()) as ApiError).error).toMatchObject({ type: 'permission_error', code: 'team_out_of_scope' });
}

/** One call in each team (red, blue, none) with these fields; their request ids. */
async function seed(over: Record<string, string>): Promise<string[]> {
  const ids = TEAMS.map(() => newRequestId());
  const rows = TEAMS.map((team, i) => JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: ids[i], started_at: new Date(Date.now() - 60_000).toISOString(), user: '', key_id: '', key_name: '', team,
    requested_model: 'm', provider: 'p', status: 200, outcome: 'success', input_tokens: 1, output_tokens: 1, cost_usd: 0, latency_ms: 1, attempts: [], tags: {},
    request_body: `{"secret":"${tag}"}`, response_body: '{}', ...over,
  }));
  await db.store.insertRaw('llm_calls', Buffer.from(rows.join('\n')));
  return ids;
}

/** The teams whose calls among `ids` still have their bodies. */
async function withBodies(ids: readonly string[]): Promise<string[]> {
  const rs = await db.store.client.query({
    query: `SELECT team FROM ${db.store.database}.llm_calls FINAL WHERE toString(request_id) IN {ids:Array(String)} AND request_body != '' ORDER BY team`,
    query_params: { ids },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ team: string }>()).map((r) => r.team);
}

const holds = async (key = MASTER): Promise<Hold[]> => ((await (await api('GET', '/admin/holds', undefined, key)).json()) as { data: Hold[] }).data;
const place = async (body: Record<string, unknown>, key = MASTER): Promise<Hold> => {
  const r = await api('POST', '/admin/holds', { reason: 'case 7', ...body }, key);
  expect(r.status, await r.clone().text()).toBe(201);
  return ((await r.json()) as { hold: Hold }).hold;
};

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-erasure-team-scope');
  app = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store: db.store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  const r = await api('POST', '/admin/tokens', { name: `red-admin-${tag}`, role: 'admin', teams: ['red'] });
  expect(r.status).toBe(201);
  red = ((await r.json()) as { secret: string }).secret;
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('erasure by a team-scoped admin', () => {
  it("erases its team's calls only, by user, key or date, and its receipt and audit row say so", async () => {
    const user = `u-${tag}`;
    const byUser = await seed({ user });
    const r = await api('POST', '/admin/erase', { user }, red);
    expect(r.status, await r.clone().text()).toBe(200);
    const receipt = (await r.json()) as { rows: number; teams: string[] | null; selector: { teams?: string[] } };
    expect(receipt).toMatchObject({ rows: 1, teams: ['red'], selector: { user, teams: ['red'] } });
    expect(await withBodies(byUser)).toEqual(['', 'blue']);
    const audit = (await listAudit(db.store, { action: 'calls.erase', limit: 100 })).filter((a) => a.actor === `token:red-admin-${tag}`);
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ teams: ['red'], selector: { user, teams: ['red'] } });

    const key = `key-${tag}`;
    const byKey = await seed({ key_id: key });
    expect(((await (await api('POST', '/admin/erase', { key, rows: true }, red)).json()) as { rows: number }).rows).toBe(1);
    const old = await seed({ started_at: '2001-01-01T00:00:00.000Z' });
    expect(((await (await api('POST', '/admin/erase', { before: '2001-06-01' }, red)).json()) as { rows: number }).rows).toBe(1);
    expect(await withBodies([...byKey, ...old])).toEqual(['', '', 'blue', 'blue']);

    // Naming a team of its own is allowed; another team, or no team, is not.
    expect((await api('POST', '/admin/erase', { user, teams: ['red'] }, red)).status).toBe(200);
    await refused(await api('POST', '/admin/erase', { user, teams: ['blue'] }, red));
    await refused(await api('POST', '/admin/erase', { user, teams: ['red', ''] }, red));
    expect(await withBodies(byUser)).toEqual(['', 'blue']);

    // The master key is unchanged: every team, and its receipt says so.
    const all = (await (await api('POST', '/admin/erase', { user })).json()) as { rows: number; teams: string[] | null };
    expect(all).toMatchObject({ rows: 2, teams: null });
    expect(await withBodies(byUser)).toEqual([]);
  });
});

describe('legal holds and a team-scoped admin', () => {
  it("places holds within its team, lists only its team's, and lifts none", async () => {
    const user = `held-${tag}`;
    const ids = await seed({ user });
    const everyTeam = await place({ kind: 'user', value: `other-${tag}` });
    const blue = await place({ kind: 'team', value: 'blue' });
    // A hold of a user by a red admin covers red's calls of that user only.
    const mine = await place({ kind: 'user', value: user }, red);
    expect(mine.teams).toEqual(['red']);
    const redTeam = await place({ kind: 'team', value: 'red' }, red);
    await refused(await api('POST', '/admin/holds', { kind: 'team', value: 'blue', reason: 'x' }, red));
    await refused(await api('POST', '/admin/holds', { kind: 'key', value: 'k', reason: 'x', teams: ['blue'] }, red));

    expect((await holds(red)).map((h) => h.id).sort()).toEqual([redTeam.id, mine.id].sort());
    expect((await holds()).map((h) => h.id)).toEqual(expect.arrayContaining([everyTeam.id, blue.id, redTeam.id, mine.id]));

    for (const h of [blue, everyTeam]) await refused(await api('DELETE', `/admin/holds/${h.id}`, undefined, red));
    expect((await holds()).filter((h) => [blue.id, everyTeam.id].includes(h.id)).every((h) => h.active)).toBe(true);
    expect((await api('DELETE', `/admin/holds/${blue.id}`)).status).toBe(200);
    // Not even its own team's hold: a hold may come from above the team.
    await refused(await api('DELETE', `/admin/holds/${redTeam.id}`, undefined, red));
    expect((await api('DELETE', `/admin/holds/${redTeam.id}`)).status).toBe(200);

    // Left: the red admin's hold of the user. The master key's erasure keeps red's call of the
    // user and erases the others'.
    expect(await (await api('POST', '/admin/erase', { user })).json()).toMatchObject({ rows: 2, held: 1 });
    expect(await withBodies(ids)).toEqual(['red']);

    await refused(await api('DELETE', `/admin/holds/${mine.id}`, undefined, red));
    const lifted = await api('DELETE', `/admin/holds/${mine.id}`);
    expect(lifted.status).toBe(200);
    expect(((await lifted.json()) as { hold: Hold }).hold).toMatchObject({ id: mine.id, active: false, teams: ['red'] });
  });

  it('holds of the audit trail: never with teams, placed, listed and lifted by unscoped callers only, audited like any hold', async () => {
    const invalid = async (body: Record<string, unknown>): Promise<void> => {
      const r = await api('POST', '/admin/holds', { reason: 'case 8', ...body });
      expect(r.status).toBe(400);
      expect(((await r.json()) as ApiError).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_hold' });
    };
    await invalid({ kind: 'audit', value: '*', teams: ['red'] });
    await invalid({ kind: 'audit', value: 'not an address' });
    await refused(await api('POST', '/admin/holds', { kind: 'audit', value: '*', reason: 'x' }, red));

    const whole = await place({ kind: 'audit', value: '*' });
    const person = await place({ kind: 'audit', value: `Erin-${tag}@Example.com` });
    expect(person).toMatchObject({ kind: 'audit', value: `erin-${tag}@example.com`, active: true });
    expect(person.teams).toBeUndefined();
    expect((await holds(red)).filter((h) => h.kind === 'audit')).toEqual([]);
    expect((await holds()).map((h) => h.id)).toEqual(expect.arrayContaining([whole.id, person.id]));

    await refused(await api('DELETE', `/admin/holds/${whole.id}`, undefined, red));
    for (const h of [whole, person]) expect((await api('DELETE', `/admin/holds/${h.id}`)).status).toBe(200);
    const audited = (await listAudit(db.store, { limit: 1000 })).filter((a) => a.target === whole.id);
    expect(audited.map((a) => [a.action, a.actor, a.target_type]).sort()).toEqual([['hold.lift', 'master', 'legal_hold'], ['hold.place', 'master', 'legal_hold']]);
  });
});

// Erasure and legal holds limited to teams (a team-scoped caller's), on the real engine (chDB):
// an erasure with `teams` touches only those teams' calls — in ClickHouse, in the copies under
// the data dir and in the request recorded for ingest — and a hold with `teams` keeps only those
// teams' calls. Requests and holds without teams, as every one written before, cover every team.
// A hold of the audit trail keeps no call.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EraseRequest, eraseCalls, erasureRule, listErasures } from './erasure.ts';
import { AUDIT_HOLD, activeCallHolds, heldExpr, holdTeams, isHeld, markHolds, writeHold, type AuditHold, type CallHold } from './retention.ts';
import { testEvent } from './test-event.ts';
import type { LlmCallEvent } from '../event.ts';
import type { Store } from './client.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';

const uid = (p: string): string => `${p}-${randomUUID()}`;
const TEAMS = ['red', 'blue', ''] as const;

let temp: TempStore;
let store: Store;
let dataDir: string;

beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-erasure-scope');
  store = temp.store;
  dataDir = mkdtempSync(join(tmpdir(), 'gatelog-erasure-scope-dir-'));
});
afterAll(async () => {
  await temp.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One call of `user` in each team, stored in ClickHouse and as dead letters under the data dir. */
async function seed(user: string, over: Partial<LlmCallEvent> = {}): Promise<LlmCallEvent[]> {
  const events = TEAMS.map((team) => testEvent({ user, team, started_at: new Date(Date.now() - 60_000).toISOString(), request_body: `{"secret":"${user} ${team}"}`, ...over }));
  await store.insertRaw('llm_calls', Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
  writeFileSync(join(dataDir, 'dead-letter.jsonl'), events.map((e) => JSON.stringify({ reason: 'test', record: JSON.stringify(e) })).join('\n'));
  return events;
}

/** Which teams' calls of `user` still have their bodies, in ClickHouse and under the data dir. */
async function intact(events: readonly LlmCallEvent[]): Promise<{ store: string[]; files: string[] }> {
  const rs = await store.client.query({
    query: `SELECT team FROM ${store.database}.llm_calls FINAL WHERE toString(request_id) IN {ids:Array(String)} AND request_body != '' ORDER BY team`,
    query_params: { ids: events.map((e) => e.request_id) },
    format: 'JSONEachRow',
  });
  const letters = readFileSync(join(dataDir, 'dead-letter.jsonl'), 'utf8').split('\n').map((l) => JSON.parse((JSON.parse(l) as { record: string }).record) as LlmCallEvent);
  return { store: (await rs.json<{ team: string }>()).map((r) => r.team), files: letters.filter((e) => e.request_body !== '').map((e) => e.team).sort() };
}

describe('erasure limited to teams', () => {
  it("erases only its teams' calls in ClickHouse and under the data dir", async () => {
    const alice = uid('alice');
    const events = await seed(alice);
    const receipt = await eraseCalls(store, EraseRequest.parse({ user: alice, teams: ['red'] }), { dataDir });
    expect(receipt).toMatchObject({ rows: 1, held: 0, files: { records: 1 } });
    expect(await intact(events)).toEqual({ store: ['', 'blue'], files: ['', 'blue'] });
    // Without teams: every team, calls of no team included.
    expect((await eraseCalls(store, EraseRequest.parse({ user: alice }), { dataDir })).rows).toBe(2);
    expect(await intact(events)).toEqual({ store: [], files: [] });
  });

  it('narrows a date selector too (rows mode)', async () => {
    const bob = uid('bob');
    await seed(bob, { started_at: '2001-02-03T04:05:06.000Z' });
    const receipt = await eraseCalls(store, EraseRequest.parse({ before: '2001-03-01', teams: ['blue', 'red'], rows: true }), {});
    expect(receipt.rows).toBe(2);
    const rs = await store.client.query({ query: `SELECT team FROM ${store.database}.llm_calls WHERE user = {u:String}`, query_params: { u: bob }, format: 'JSONEachRow' });
    expect((await rs.json<{ team: string }>()).map((r) => r.team)).toEqual(['']);
  });

  it('records its teams for ingest; a request recorded without teams reads back as every team', async () => {
    const carol = uid('carol');
    const t0 = Date.now();
    await eraseCalls(store, EraseRequest.parse({ user: carol, teams: ['blue'] }), {});
    // As an older gatelog recorded it: no teams field.
    const oldId = uid('erase');
    await store.client.insert({
      table: `${store.database}.erasure_requests`,
      values: [{ id: oldId, requested_at: new Date(t0).toISOString().slice(0, 23).replace('T', ' '), selector: JSON.stringify({ user: carol, rows: false }) }],
      format: 'JSONEachRow',
    });
    const { erasures, unreadable } = await listErasures(store, t0 - 1000);
    expect(unreadable).toEqual([]);
    const scoped = erasures.find((e) => e.request.user === carol && e.id !== oldId)!;
    const old = erasures.find((e) => e.id === oldId)!;
    expect(scoped.request.teams).toEqual(['blue']);
    expect(old.request.teams).toBeUndefined();
    const running = (team: string): Record<string, unknown> => ({ user: carol, team, started_at: new Date(t0 - 5000).toISOString() });
    expect(TEAMS.map((t) => erasureRule(scoped, []).match(running(t)))).toEqual([false, true, false]);
    expect(TEAMS.map((t) => erasureRule(old, []).match(running(t)))).toEqual([true, true, true]);
  });

  it('refuses an empty teams list (absent is every team)', () => {
    expect(EraseRequest.safeParse({ user: 'x', teams: [] }).success).toBe(false);
  });
});

describe('legal holds limited to teams', () => {
  const fields = () => {
    const at = new Date().toISOString();
    return { id: uid('hold'), version: 1, reason: 'case', active: true, created_at: at, updated_at: at, updated_by: 'test' };
  };
  const hold = (over: Partial<CallHold>): CallHold => ({ ...fields(), kind: 'user', value: '', ...over });
  const auditHold = (value: string): AuditHold => ({ ...fields(), kind: AUDIT_HOLD, value });

  it("keep only their teams' calls from erasure, and read back with their teams", async () => {
    const dan = uid('dan');
    const events = await seed(dan);
    const h = hold({ value: dan, teams: ['red'] });
    await writeHold(store, h);
    await markHolds(store);
    const rs = await store.client.query({ query: `SELECT team FROM ${store.database}.llm_calls WHERE user = {u:String} AND legal_hold`, query_params: { u: dan }, format: 'JSONEachRow' });
    expect((await rs.json<{ team: string }>()).map((r) => r.team)).toEqual(['red']);
    const receipt = await eraseCalls(store, EraseRequest.parse({ user: dan }), { dataDir });
    expect(receipt).toMatchObject({ rows: 2, held: 1, files: { records: 2 } });
    expect(await intact(events)).toEqual({ store: ['red'], files: ['red'] });
    const read = (await activeCallHolds(store)).find((x) => x.id === h.id)!;
    expect(read.teams).toEqual(['red']);
    expect(holdTeams(read)).toEqual(['red']);
  });

  it('a hold without teams covers every team; a team hold covers its team', async () => {
    const erin = uid('erin');
    const h = hold({ value: erin });
    await writeHold(store, h);
    const read = (await activeCallHolds(store)).find((x) => x.id === h.id)!;
    expect(holdTeams(read)).toBeNull();
    expect(TEAMS.map((team) => isHeld({ user: erin, team }, [read]))).toEqual([true, true, true]);
    expect(holdTeams(hold({ kind: 'team', value: 'blue' }))).toEqual(['blue']);
    expect(TEAMS.map((team) => isHeld({ user: erin, team }, [{ ...read, teams: ['blue', ''] }]))).toEqual([false, true, true]);
    expect(heldExpr([{ kind: 'user', value: 'v', teams: ['red'] }])).toContain('team IN');
  });

  it('a hold of the audit trail (of a person, or all of it) keeps no call: heldExpr, markHolds and erasure are as without it', async () => {
    const email = `${uid('fay')}@example.com`;
    const events = await seed(email);
    const before = heldExpr(await activeCallHolds(store));
    for (const value of [email, '*']) await writeHold(store, auditHold(value));
    expect(heldExpr(await activeCallHolds(store))).toBe(before);
    await markHolds(store);
    const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.llm_calls WHERE user = {u:String} AND legal_hold`, query_params: { u: email }, format: 'JSONEachRow' });
    expect(Number((await rs.json<{ n: string }>())[0]!.n)).toBe(0);
    expect(await eraseCalls(store, EraseRequest.parse({ user: email }), { dataDir })).toMatchObject({ rows: 3, held: 0, files: { records: 3 } });
    expect(await intact(events)).toEqual({ store: [], files: [] });
  });
});

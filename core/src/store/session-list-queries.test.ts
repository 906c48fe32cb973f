// The Sessions list query against a real chDB store seeded here: grouping, totals, order,
// keyset pages, team scope, agent filter, the range, and the cursor's validation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import type { LlmCallEvent } from '../event.ts';
import { testEvent } from './test-event.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { encodeSessionCursor, listSessions, parseSessionCursor } from './session-list-queries.ts';
import { ReadParamError } from './read-params.ts';

const ev = testEvent;

let dir: string;
let store: Store;
const at = (min: number, sec = 0): string => new Date(Date.UTC(2026, 2, 1, 10, min, sec)).toISOString();
const range = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-sessions-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const rows: LlmCallEvent[] = [
    // cc-1: three Claude Code calls over two minutes, two models, one error, one unpriced.
    ev({ session_id: 'cc-1', started_at: at(0), tags: { agent: 'claude-code' }, user: 'ann', requested_model: 'claude-a' }),
    ev({ session_id: 'cc-1', started_at: at(1), tags: { agent: 'claude-code' }, user: 'ann', requested_model: 'claude-b', status: 529, outcome: 'error', cost_usd: null }),
    ev({ session_id: 'cc-1', started_at: at(2), tags: { agent: 'claude-code' }, user: 'ann', requested_model: 'claude-a', latency_ms: 2500 }),
    // cx-1: Codex, newest activity, blue team.
    ev({ session_id: 'cx-1', started_at: at(5), tags: { agent: 'codex' }, team: 'blue', key_id: 'k2', key_name: '', requested_model: 'gpt-x' }),
    // un-1: unpriced only; outside-range call of the same session.
    ev({ session_id: 'un-1', started_at: at(3), cost_usd: null }),
    ev({ session_id: 'un-1', started_at: '2026-02-27T10:00:00.000Z' }),
    // No session: never listed.
    ev({ started_at: at(4) }),
  ];
  await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('listSessions', () => {
  it('groups calls by session, newest activity first, with totals', async () => {
    const page = await listSessions(store, { ...range, limit: 10 });
    expect(page.rows.map((r) => r.session_id)).toEqual(['cx-1', 'un-1', 'cc-1']);
    expect(page.next).toBeUndefined();
    const cc = page.rows.find((r) => r.session_id === 'cc-1')!;
    expect(cc).toMatchObject({ calls: 3, errors: 1, input_tokens: 30, output_tokens: 15, agent: 'claude-code', users: ['ann'], keys: ['key-one'], first_at: at(0), last_at: at(2) });
    expect(cc.cost_usd).toBeCloseTo(0.02, 9);
    expect([...cc.models].sort()).toEqual(['claude-a', 'claude-b']);
    // From the first start to the end of the last call: 2 min + 2.5 s.
    expect(cc.duration_ms).toBe(122_500);
    const un = page.rows.find((r) => r.session_id === 'un-1')!;
    expect(un).toMatchObject({ calls: 1, cost_usd: null, agent: '' });
    expect(page.rows.find((r) => r.session_id === 'cx-1')!.keys).toEqual(['k2']);
  });

  it('pages by keyset without gaps or repeats', async () => {
    const first = await listSessions(store, { ...range, limit: 2 });
    expect(first.rows.map((r) => r.session_id)).toEqual(['cx-1', 'un-1']);
    expect(first.next).toEqual({ lastAt: at(3), sessionId: 'un-1' });
    const cursor = parseSessionCursor(encodeSessionCursor(first.next!));
    const second = await listSessions(store, { ...range, limit: 2, before: cursor });
    expect(second.rows.map((r) => r.session_id)).toEqual(['cc-1']);
    expect(second.next).toBeUndefined();
  });

  it('scopes to teams, filters by agent, and counts only calls in the range', async () => {
    expect((await listSessions(store, { ...range, limit: 10, teams: ['blue'] })).rows.map((r) => r.session_id)).toEqual(['cx-1']);
    expect((await listSessions(store, { ...range, limit: 10, teams: [] })).rows).toEqual([]);
    expect((await listSessions(store, { ...range, limit: 10, agent: 'claude-code' })).rows.map((r) => r.session_id)).toEqual(['cc-1']);
    const feb = await listSessions(store, { from: '2026-02-27T00:00:00.000Z', to: '2026-02-28T00:00:00.000Z', limit: 10 });
    expect(feb.rows.map((r) => [r.session_id, r.calls])).toEqual([['un-1', 1]]);
  });

  it('finds a page in the newest hour and still totals each session over the whole range', async () => {
    const day = (h: number, m: number): string => new Date(Date.UTC(2026, 2, 5, h, m)).toISOString();
    const late = ['s-a', 's-b', 's-c'].map((id, i) => testEvent({ session_id: id, started_at: day(23, 10 + i) }));
    // s-a also worked early in the day, and s-old only then.
    const early = [testEvent({ session_id: 's-a', started_at: day(0, 5), latency_ms: 0 }), testEvent({ session_id: 's-old', started_at: day(1, 0) })];
    await store.insertRaw('llm_calls', Buffer.from([...late, ...early].map((r) => JSON.stringify(r)).join('\n')));
    const q = { from: '2026-03-05T00:00:00.000Z', to: '2026-03-06T00:00:00.000Z', limit: 2 };
    const first = await listSessions(store, q);
    expect(first.rows.map((r) => [r.session_id, r.calls])).toEqual([['s-c', 1], ['s-b', 1]]);
    const second = await listSessions(store, { ...q, before: first.next });
    expect(second.rows.map((r) => [r.session_id, r.calls, r.first_at])).toEqual([['s-a', 2, day(0, 5)], ['s-old', 1, day(1, 0)]]);
    expect(second.rows[0]!.duration_ms).toBe((23 * 60 + 5) * 60_000 + 100);
    expect(second.next).toBeUndefined();
  });

  it('refuses a malformed cursor with a 400-class error', () => {
    for (const bad of ['x', '2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00.000Z-id', '1999-03-01T10:00:00.000Z_id', `2026-03-01T10:00:00.000Z_${'x'.repeat(300)}`]) {
      expect(() => parseSessionCursor(bad), bad).toThrow(ReadParamError);
    }
    expect(parseSessionCursor('2026-03-01T10:00:00.000Z_a_b')).toEqual({ lastAt: '2026-03-01T10:00:00.000Z', sessionId: 'a_b' });
    expect(parseSessionCursor(null)).toBeUndefined();
  });
});

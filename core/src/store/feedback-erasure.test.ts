// Feedback that reaches an erased call after its erasure ran, on the real engine (chDB): a call
// in flight when the erasure ran (stored erased afterwards, as ingest's guard stores it) and a
// call the erasure already erased (its row kept without bodies, or deleted) keep no feedback —
// by request id or by trace, written before or after — once the retention sweep ran, and a
// call's page never shows it meanwhile. Feedback on calls no erasure covers (another user,
// another team of a team-scoped request, a held call) stays, and a receipt counts only what the
// erasure itself removed. A sweep with nothing new since the last one does not read feedback
// against llm_calls. What the feedback routes refuse up front (namesErasedCalls): an erased
// call no hold covers, or a trace whose calls of the key all are; not a mixed or unknown one.
import { randomUUID } from 'node:crypto';
import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackForCall, insertFeedback, namesErasedCalls, type FeedbackAuthor } from './feedback.ts';
import { EraseRequest, eraseCalls } from './erasure.ts';
import { RetentionConfig, markHolds, writeHold } from './retention.ts';
import { startRetention } from './retention-sweep.ts';
import { createLogger } from '../logger.ts';
import { testEvent } from './test-event.ts';
import type { LlmCallEvent } from '../event.ts';
import type { Store } from './client.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';

let temp: TempStore;
let store: Store;
beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-feedback-erasure');
  store = temp.store;
});
afterAll(async () => {
  await temp.close();
});

const uid = (p: string): string => `${p}-${randomUUID()}`;
const recent = (): string => new Date(Date.now() - 60_000).toISOString();
const insertCalls = (events: LlmCallEvent[]): Promise<void> => store.insertRaw('llm_calls', Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
/**
 * A call covered by a recorded erasure as ingest's guard stores it when it arrives afterwards
 * (ingest/src/erasure-guard.ts): bodies and user emptied, marked erased.
 */
const asGuardStores = (e: LlmCallEvent): Record<string, unknown> => ({ ...e, user: '', request_body: '', response_body: '', error_message: '', erased_at: new Date().toISOString() });
const keyAuthor = (keyId: string, team = 'red'): FeedbackAuthor => ({ by: `key:${keyId}`, source: 'api', keyId, team, user: '' });
const onCall = (e: LlmCallEvent, comment: string, name = 'feedback'): Promise<void> =>
  insertFeedback(store, { requestId: e.request_id, traceId: '', name, value: -1, weight: 1, comment, metadata: {} }, keyAuthor(e.key_id, e.team), Date.now());
const onTrace = (key: string, trace: string, comment: string): Promise<void> =>
  insertFeedback(store, { requestId: '', traceId: trace, name: 'trace_score', value: -2, weight: 1, comment, metadata: { note: comment } }, keyAuthor(key), Date.now());

/** Every stored feedback row (all versions) of `key`, as [request_id or trace_id, comment], sorted. */
async function storedFeedback(key: string): Promise<[string, string][]> {
  const rs = await store.client.query({
    query: `SELECT if(request_id != '', request_id, trace_id) AS of, comment FROM ${store.database}.call_feedback WHERE key_id = {k:String} ORDER BY of, comment`,
    query_params: { k: key },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ of: string; comment: string }>()).map((r) => [r.of, r.comment]);
}

async function sweepOnce(): Promise<void> {
  const sweep = await startRetention({ store, retention: RetentionConfig.parse({}), logger: createLogger('silent') });
  try {
    await sweep.run();
  } finally {
    sweep.stop();
  }
}

describe('feedback on calls an erasure covers, arriving after it ran', () => {
  it('a call in flight when its user was erased, stored erased afterwards: its feedback (written before or after, by request id or trace) goes', async () => {
    const [user, other, key, trace] = [uid('u'), uid('u'), uid('k'), uid('tr')];
    const late = testEvent({ user, key_id: key, trace_id: trace, started_at: recent(), request_body: '{"my":"secret"}' });
    const kept = testEvent({ user: other, key_id: key, trace_id: uid('tr'), started_at: recent() });
    // Scored the moment it answered, before ingest stored it; the erasure finds nothing stored yet.
    await onCall(late, 'written before the erasure');
    const receipt = await eraseCalls(store, EraseRequest.parse({ user }), {});
    expect(receipt).toMatchObject({ rows: 0, feedback: 0 });
    await insertCalls([asGuardStores(late) as unknown as LlmCallEvent, kept]);
    await onCall(late, 'written after the erasure', 'second');
    await onTrace(key, trace, 'the whole conversation was about my divorce');
    await onCall(kept, 'another user\'s words');
    // Never shown on the call's page, before the sweep runs …
    expect(await feedbackForCall(store, late)).toEqual([]);
    expect((await feedbackForCall(store, kept)).map((r) => r.comment)).toEqual(['another user\'s words']);
    // … and gone from the store once it ran.
    await sweepOnce();
    expect(await storedFeedback(key)).toEqual([[kept.request_id, 'another user\'s words']]);
  });

  it('feedback written after the erasure onto a call it erased goes: bodies mode (row kept) and rows mode (row deleted)', async () => {
    const [user, other, key, trace] = [uid('u'), uid('u'), uid('k'), uid('tr')];
    const erased = testEvent({ user, key_id: key, trace_id: trace, started_at: recent() });
    const kept = testEvent({ user: other, key_id: key, trace_id: uid('tr'), started_at: recent() });
    await insertCalls([erased, kept]);
    expect(await eraseCalls(store, EraseRequest.parse({ user }), {})).toMatchObject({ rows: 1, feedback: 0 });
    await onCall(erased, 'my phone number is 555-0100');
    await onTrace(key, trace, 'about my diagnosis');
    await onCall(kept, 'fine');
    expect(await feedbackForCall(store, erased)).toEqual([]);

    // Rows mode: a call that started two days ago, its row deleted by the erasure.
    const [rowsUser, rowsKey] = [uid('u'), uid('k')];
    const startedAt = Date.now() - 2 * 86_400_000;
    const gone = testEvent({ user: rowsUser, key_id: rowsKey, request_id: v7({ msecs: startedAt }), started_at: new Date(startedAt).toISOString() });
    await insertCalls([gone]);
    expect(await eraseCalls(store, EraseRequest.parse({ user: rowsUser, rows: true }), {})).toMatchObject({ rows: 1 });
    await onCall(gone, 'sent after the row was deleted');

    await sweepOnce();
    expect(await storedFeedback(key)).toEqual([[kept.request_id, 'fine']]);
    expect(await storedFeedback(rowsKey)).toEqual([]);
  });

  it('keeps the feedback of calls no erasure covers: another team of a team-scoped request, a held call, another user', async () => {
    const [user, other, key, heldTrace] = [uid('u'), uid('u'), uid('k'), uid('held')];
    const red = testEvent({ user, key_id: key, team: 'red', started_at: recent() });
    const blue = testEvent({ user, key_id: key, team: 'blue', started_at: recent() });
    const held = testEvent({ user, key_id: key, team: 'red', trace_id: heldTrace, started_at: recent() });
    const others = testEvent({ user: other, key_id: key, team: 'red', started_at: recent() });
    await insertCalls([red, blue, held, others]);
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${randomUUID()}`, version: 1, kind: 'trace', value: heldTrace, reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 't' });
    await markHolds(store);
    const receipt = await eraseCalls(store, EraseRequest.parse({ user, teams: ['red'] }), {});
    expect(receipt).toMatchObject({ rows: 1, held: 1, feedback: 0 });
    for (const [e, words] of [[red, 'red'], [blue, 'blue'], [held, 'held'], [others, 'others']] as const) await onCall(e, words);
    await onTrace(key, heldTrace, 'held trace');
    await sweepOnce();
    expect(await storedFeedback(key)).toEqual([
      [blue.request_id, 'blue'], [held.request_id, 'held'], [others.request_id, 'others'], [heldTrace, 'held trace'],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)));
    expect((await feedbackForCall(store, held)).map((r) => r.comment).sort()).toEqual(['held', 'held trace']);
    expect((await feedbackForCall(store, blue)).map((r) => r.comment)).toEqual(['blue']);
  });

  it('a call with nothing left to erase (bodies expired, no user) is still marked by an erasure that covers it: the receipt counts no row, its later feedback goes', async () => {
    const key = uid('k');
    const bare = testEvent({ key_id: key, started_at: recent(), request_body: '', response_body: '' });
    await insertCalls([bare]);
    expect(await eraseCalls(store, EraseRequest.parse({ key }), {})).toMatchObject({ rows: 0, bytes: 0, held: 0, feedback: 0 });
    await onCall(bare, 'sent afterwards');
    expect(await feedbackForCall(store, bare)).toEqual([]);
    await sweepOnce();
    expect(await storedFeedback(key)).toEqual([]);
  });

  it('a sweep with no feedback written and no call erased since the last one reads no feedback against llm_calls', async () => {
    const [user, key] = [uid('u'), uid('k')];
    const e = testEvent({ user, key_id: key, started_at: recent() });
    await insertCalls([e]);
    await eraseCalls(store, EraseRequest.parse({ user }), {});
    await onCall(e, 'after');
    const queries: string[] = [];
    const watched = { ...store, client: new Proxy(store.client, { get: (t, p) => {
      const v: unknown = Reflect.get(t, p, t);
      if (typeof v !== 'function') return v;
      return (q: { query?: string }) => {
        if (typeof q.query === 'string') queries.push(q.query);
        return (v as (x: unknown) => unknown).call(t, q);
      };
    } }) } as Store;
    // The sweep's clock hours ahead: past the margin it allows other hosts' clocks, nothing
    // was written or erased since its first run.
    const sweep = await startRetention({ store: watched, retention: RetentionConfig.parse({}), logger: createLogger('silent'), now: () => Date.now() + 3 * 3_600_000 });
    const joins = (): string[] => queries.filter((q) => q.includes('call_feedback') && q.includes('erased_at') && !/^\s*SELECT count\(\)/.test(q));
    try {
      await sweep.run();
      expect(await storedFeedback(key)).toEqual([]);
      expect(joins()).not.toEqual([]);
      queries.length = 0;
      await sweep.run();
    } finally {
      sweep.stop();
    }
    expect(joins()).toEqual([]);
  });
});

describe('feedback the routes refuse: it names what an erasure took', () => {
  it('an erased call, or a trace of the key with every call erased; not a held one, a mixed trace, an unknown id or another key\'s call', async () => {
    const [user, other, key, trace, mixed, heldTrace] = [uid('u'), uid('u'), uid('k'), uid('tr'), uid('tr'), uid('held')];
    const erased = testEvent({ user, key_id: key, trace_id: trace, started_at: recent() });
    const alsoErased = testEvent({ user, key_id: key, trace_id: trace, started_at: recent() });
    const half = testEvent({ user, key_id: key, trace_id: mixed, started_at: recent() });
    const live = testEvent({ user: other, key_id: key, trace_id: mixed, started_at: recent() });
    const held = testEvent({ user, key_id: key, trace_id: heldTrace, started_at: recent() });
    await insertCalls([erased, alsoErased, half, live, held]);
    const names = (k: string, requestId: string, traceId = ''): Promise<boolean> => namesErasedCalls(store, k, { requestId, traceId });
    expect(await names(key, erased.request_id)).toBe(false);
    expect(await names(key, '', trace)).toBe(false);
    await eraseCalls(store, EraseRequest.parse({ user }), {});
    // A hold placed after the erasure keeps what it covers, feedback included (feedbackForCall shows it).
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${randomUUID()}`, version: 1, kind: 'trace', value: heldTrace, reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 't' });
    await markHolds(store);

    expect(await names(key, erased.request_id)).toBe(true);
    expect(await names(key, erased.request_id.toUpperCase())).toBe(true);
    expect(await names(key, '', trace)).toBe(true);
    expect(await names(key, half.request_id)).toBe(true);
    expect(await names(key, '', mixed)).toBe(false);
    expect(await names(key, live.request_id)).toBe(false);
    expect(await names(key, held.request_id)).toBe(false);
    expect(await names(key, '', heldTrace)).toBe(false);
    expect(await names(uid('k'), erased.request_id)).toBe(false);
    expect(await names(uid('k'), '', trace)).toBe(false);
    expect(await names(key, v7())).toBe(false);
    expect(await names(key, '', uid('tr'))).toBe(false);
  });
});

// Feedback on the real engine (chDB): the input check both surfaces share (table-driven), a key's
// feedback attaching only to its own calls (even when written before the call was stored), the
// explorer's filter and a page's summaries, re-rating replacing, erasure removing a call's
// feedback (and counting it), and the retention sweep's pruning of feedback whose call is gone
// while a held call keeps its own.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackBusyError, FeedbackInputError, feedbackForCall, feedbackSummaries, feedbackWriter, insertFeedback, parseFeedback, type FeedbackAuthor } from './feedback.ts';
import { pruneFeedback } from './feedback-removal.ts';
import { eraseCalls } from './erasure.ts';
import { enforceRetentionNow, markHolds, RetentionConfig, writeHold } from './retention.ts';
import { startRetention } from './retention-sweep.ts';
import { createLogger } from '../logger.ts';
import { listExplorer } from './explorer-queries.ts';
import { testEvent } from './test-event.ts';
import type { LlmCallEvent } from '../event.ts';
import type { Store } from './client.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';

let temp: TempStore;
let store: Store;
beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-feedback');
  store = temp.store;
});
afterAll(async () => {
  await temp.close();
});

const codeOf = (body: Record<string, unknown>, surface: 'api' | 'person' = 'api'): string => {
  try {
    parseFeedback(body, surface);
    return 'ok';
  } catch (err) {
    return err instanceof FeedbackInputError ? err.code : 'thrown';
  }
};
const RID = '0193a000-0000-7000-8000-000000000001';

describe('parseFeedback', () => {
  it.each([
    [{ request_id: RID, value: 1 }, 'ok'],
    [{ trace_id: 't-1', value: -10, weight: 0.5, metadata: { user: 'u1' } }, 'ok'],
    [{ request_id: RID.toUpperCase(), value: 0.5, name: 'helpful.v2:a/b-c_d', comment: 'x'.repeat(4096) }, 'ok'],
    [{ value: 1 }, 'missing_id'],
    [{ request_id: RID, trace_id: 't', value: 1 }, 'ambiguous_id'],
    [{ request_id: 'nope', value: 1 }, 'invalid_request_id'],
    [{ trace_id: '', value: 1 }, 'invalid_trace_id'],
    [{ request_id: RID }, 'missing_value'],
    [{ request_id: RID, value: 'NaN' }, 'invalid_value'],
    [{ request_id: RID, value: 11 }, 'value_out_of_range'],
    [{ request_id: RID, value: -10.5 }, 'value_out_of_range'],
    [{ request_id: RID, value: 1, weight: 2 }, 'invalid_weight'],
    [{ request_id: RID, value: 1, name: 'x'.repeat(65) }, 'invalid_name'],
    [{ request_id: RID, value: 1, name: 'has space' }, 'invalid_name'],
    [{ request_id: RID, value: 1, comment: 'x'.repeat(4097) }, 'comment_too_long'],
    [{ request_id: RID, value: 1, metadata: { a: 1 } }, 'invalid_metadata'],
    [{ request_id: RID, value: 1, metadata: ['a'] }, 'invalid_metadata'],
    [{ request_id: RID, value: 1, rating: true }, 'unknown_parameter'],
  ] as [Record<string, unknown>, string][])('case %#', (body, code) => {
    expect(codeOf(body)).toBe(code);
  });

  it('takes only value, name and comment from a person (the call is in the path)', () => {
    expect(codeOf({ value: -1, comment: 'wrong' }, 'person')).toBe('ok');
    expect(codeOf({ value: -1, request_id: RID }, 'person')).toBe('unknown_parameter');
    expect(parseFeedback({ request_id: RID.toUpperCase(), value: 1 }, 'api')).toMatchObject({ requestId: RID, name: 'feedback', weight: 1, comment: '', metadata: {} });
  });
});

const insertCalls = (events: LlmCallEvent[]): Promise<void> => store.insertRaw('llm_calls', Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
const keyAuthor = (keyId: string): FeedbackAuthor => ({ by: `key:${keyId}`, source: 'api', keyId, team: 'red', user: '' });
const score = (e: Pick<LlmCallEvent, 'request_id'>, value: number, who: FeedbackAuthor, over: Partial<{ name: string; comment: string; at: number }> = {}): Promise<void> =>
  insertFeedback(store, { requestId: e.request_id, traceId: '', name: over.name ?? 'feedback', value, weight: 1, comment: over.comment ?? '', metadata: {} }, who, over.at ?? Date.now());

describe('call_feedback', () => {
  it('attaches a key\'s feedback to its own calls only, written before or after the call was stored', async () => {
    const key = `k-${randomUUID()}`;
    const trace = `tr-${randomUUID()}`;
    const own = testEvent({ key_id: key, trace_id: trace, started_at: new Date().toISOString() });
    const other = testEvent({ key_id: `k-${randomUUID()}`, started_at: new Date().toISOString() });
    // Scored before ingest stored it, then re-rated: the newer value replaces the older.
    await score(own, 1, keyAuthor(key), { comment: 'first', at: Date.now() - 1000 });
    await score(own, -1, keyAuthor(key), { comment: 'changed my mind' });
    await score(other, -5, keyAuthor(key));
    await insertFeedback(store, { requestId: '', traceId: trace, name: 'trace_score', value: 3, weight: 0.5, comment: '', metadata: { env: 'test' } }, keyAuthor(key), Date.now());
    await insertCalls([own, other]);
    const mine = await feedbackForCall(store, own);
    expect(mine.map((r) => [r.name, r.value, r.comment]).sort()).toEqual([['feedback', -1, 'changed my mind'], ['trace_score', 3, '']]);
    expect(await feedbackForCall(store, other)).toEqual([]);
    const sums = await feedbackSummaries(store, [own, other]);
    expect(sums.get(own.request_id)).toEqual({ count: 2, min: -1, avg: 1 });
    expect(sums.has(other.request_id)).toBe(false);
    const listed = async (feedback: 'positive' | 'negative' | 'any' | 'none'): Promise<string[]> =>
      (await listExplorer(store, { feedback, from: new Date(Date.now() - 3_600_000).toISOString() }, { limit: 500 })).rows.map((r) => r.request_id).filter((id) => id === own.request_id || id === other.request_id);
    expect(await listed('negative')).toEqual([own.request_id]);
    expect(await listed('positive')).toEqual([own.request_id]);
    expect(await listed('any')).toEqual([own.request_id]);
    expect(await listed('none')).toEqual([other.request_id]);
  });

  it('erasure removes the feedback of the calls it erases, counts it, and leaves held calls\' feedback', async () => {
    const user = `u-${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    const [a, b, held] = [0, 1, 2].map(() => testEvent({ user, key_id: key, started_at: new Date(Date.now() - 60_000).toISOString() })) as [LlmCallEvent, LlmCallEvent, LlmCallEvent];
    await insertCalls([a, b, { ...held, trace_id: `held-${user}` }]);
    await score(a, -1, keyAuthor(key), { comment: 'my address is …' });
    await score(a, 1, { by: 'person:ann@example.com', source: 'ui', keyId: key, team: 'red', user });
    await score(b, 2, keyAuthor(key));
    await score(held, -2, keyAuthor(key));
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${randomUUID()}`, version: 1, kind: 'trace', value: `held-${user}`, reason: 'test', active: true, created_at: at, updated_at: at, updated_by: 't' });
    await markHolds(store);
    const receipt = await eraseCalls(store, { user, rows: false }, {});
    expect(receipt.feedback).toBe(3);
    expect(await feedbackForCall(store, a)).toEqual([]);
    expect(await feedbackForCall(store, b)).toEqual([]);
    expect((await feedbackForCall(store, held)).map((r) => r.value)).toEqual([-2]);
  });

  it('retention removes feedback whose call is gone once the grace has passed, never a stored call\'s', async () => {
    const key = `k-${randomUUID()}`;
    const kept = testEvent({ key_id: key, started_at: new Date().toISOString() });
    const gone = testEvent({ key_id: key, started_at: new Date().toISOString() });
    await insertCalls([kept]);
    await score(kept, 1, keyAuthor(key), { at: Date.now() - 10_000 });
    await score(gone, 1, keyAuthor(key), { at: Date.now() - 10_000 });
    // Within the grace, a call not stored yet (ingest lag) keeps its feedback.
    expect(await pruneFeedback(store, Date.now())).toBe(0);
    // The row of the call never stored goes (with the earlier tests' rows that attach to nothing).
    expect(await pruneFeedback(store, Date.now(), 1000)).toBeGreaterThanOrEqual(1);
    expect(await feedbackForCall(store, kept)).toHaveLength(1);
    await insertCalls([gone]);
    expect(await feedbackForCall(store, gone)).toEqual([]);
  });

  // Last: it sets llm_calls' TTLs on this file's store.
  it('the retention sweep keeps feedback no longer than its call: a team\'s own period, a legal hold', async () => {
    const tag = randomUUID().slice(0, 8);
    const [shortTeam, longTeam] = [`short-${tag}`, `long-${tag}`];
    const key = `k-${tag}`;
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const expired = testEvent({ key_id: key, team: shortTeam, started_at: old });
    const held = testEvent({ key_id: key, team: shortTeam, started_at: old, trace_id: `held-${tag}` });
    const kept = testEvent({ key_id: key, team: longTeam, started_at: old });
    await insertCalls([expired, held, kept]);
    for (const e of [expired, held, kept]) await score(e, -1, { ...keyAuthor(key), team: e.team }, { comment: 'personal words', at: Date.now() - 9 * 86_400_000 });
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${randomUUID()}`, version: 1, kind: 'trace', value: `held-${tag}`, reason: 'test', active: true, created_at: at, updated_at: at, updated_by: 't' });
    const sweep = await startRetention({ store, retention: RetentionConfig.parse({ teams: { [shortTeam]: { calls: '1d' } } }), logger: createLogger('silent') });
    try {
      await sweep.run();
      await enforceRetentionNow(store);
      await sweep.run();
    } finally {
      sweep.stop();
    }
    expect(await feedbackForCall(store, expired)).toEqual([]);
    expect(await feedbackForCall(store, held)).toHaveLength(1);
    expect(await feedbackForCall(store, kept)).toHaveLength(1);
  });
});

describe('feedbackWriter', () => {
  const input = (requestId: string, value = 1) => ({ requestId, traceId: '', name: 'feedback', value, weight: 1, comment: '', metadata: {} });
  const countOf = async (key: string): Promise<number> => {
    const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.call_feedback WHERE key_id = {k:String}`, query_params: { k: key }, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  it('gathers concurrent writes into few inserts, each write resolved once its row is stored', async () => {
    let inserts = 0;
    const counting = { ...store, client: new Proxy(store.client, { get: (t, p, r) => (p === 'insert' ? (...a: unknown[]) => { inserts++; return (t.insert as (...x: unknown[]) => unknown).apply(t, a); } : Reflect.get(t, p, r)) }) } as Store;
    const w = feedbackWriter(counting, { lingerMs: 20, maxRows: 100, maxPendingPerKey: 1000 });
    const key = `k-${randomUUID()}`;
    await Promise.all(Array.from({ length: 250 }, () => w.write(input(randomUUID()), keyAuthor(key), Date.now())));
    expect(await countOf(key)).toBe(250);
    // 100 + 100 + 50 rows: three inserts, not 250.
    expect(inserts).toBe(3);
    await w.close();
  });

  it('refuses a flooding key at once while another key\'s writes are taken', async () => {
    const w = feedbackWriter(store, { lingerMs: 50, maxPendingPerKey: 5 });
    const flood = `k-${randomUUID()}`;
    const calm = `k-${randomUUID()}`;
    const writes = Array.from({ length: 8 }, () => w.write(input(randomUUID()), keyAuthor(flood), Date.now()).then(() => 'ok', (e: unknown) => (e instanceof FeedbackBusyError ? e.scope : 'error')));
    const other = w.write(input(randomUUID()), keyAuthor(calm), Date.now());
    expect(await Promise.all(writes)).toEqual([...Array(5).fill('ok'), 'key', 'key', 'key']);
    await other;
    expect(await countOf(flood)).toBe(5);
    expect(await countOf(calm)).toBe(1);
    // Once stored, the key may write again.
    await w.write(input(randomUUID()), keyAuthor(flood), Date.now());
    await w.close();
  });

  it('rejects every write of an insert the store refused, and takes later ones', async () => {
    let fail = true;
    const flaky = { ...store, client: new Proxy(store.client, { get: (t, p, r) => (p === 'insert' ? (...a: unknown[]) => (fail ? Promise.reject(new Error('store down')) : (t.insert as (...x: unknown[]) => unknown).apply(t, a)) : Reflect.get(t, p, r)) }) } as Store;
    const w = feedbackWriter(flaky, { lingerMs: 10 });
    const key = `k-${randomUUID()}`;
    const r = await Promise.allSettled([1, 2, 3].map(() => w.write(input(randomUUID()), keyAuthor(key), Date.now())));
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    await w.write(input(randomUUID()), keyAuthor(key), Date.now());
    expect(await countOf(key)).toBe(1);
    await w.close();
  });
});

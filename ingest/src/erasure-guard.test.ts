// Erasures asked before a row is stored apply to it: the pipeline on a real engine (chDB, one
// store for the file; each test its own users, keys and traces, so the requests recorded by one
// test cover none of another's rows).
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EraseRequest, RetentionConfig, createLogger, encodeEvent, eraseCalls, recordErasure, startRetention, writeHold, type LlmCallEvent, type Store } from '@gatelog/core';
import { feedbackForCall, insertFeedback } from '@gatelog/core/store/feedback';
import { erasureRule } from '@gatelog/core/store/erasure';
import { scrubbedInPlace } from '@gatelog/core/store/scrub-event';
import { createIngestMetrics } from './metrics.ts';
import { createPipeline, type PipelinePart } from './pipeline.ts';
import { sampleEvent } from '../../test/e2e/distributed-events.ts';
import { tempEmbeddedStore, type TempStore } from '../../test/support/embedded-store.ts';

const uid = (p: string): string => `${p}-${crypto.randomUUID()}`;
/** What the upstream got and answered on one attempt (it differs from the call's bodies after a fallback). */
const io = (tag: string): NonNullable<LlmCallEvent['attempt_io']> => [
  { provider_request_id: `req-${tag}`, request_same: false, request_body: `{"upstream":"${tag}"}`, request_parts: [], request_bytes: 16, request_sha256: 'ab'.repeat(32), response_same: false, response_body: `{"answer":"${tag}"}`, response_bytes: 14, response_sha256: 'cd'.repeat(32), truncated: false },
];
const part = (records: Buffer[]): PipelinePart => ({ records, rows: records.length, bytes: records.reduce((n, r) => n + r.length + 1, 0) });

interface Stored {
  id: string;
  user: string;
  request_body: string;
  response_body: string;
  attempt_bodies: string;
}

describe('erasure guard (ingest)', () => {
  let temp: TempStore;
  let store: Store;
  let token = 0;

  beforeAll(async () => {
    temp = await tempEmbeddedStore('gatelog-erasure-guard');
    store = temp.store;
  });

  afterAll(() => temp.close());

  /** The ingest pipeline into `target`, inserts of up to `rows` rows. */
  const pipeline = (target: Store, registry: Registry, rows: number): ReturnType<typeof createPipeline<PipelinePart>> =>
    createPipeline<PipelinePart>({
      source: { tokenFor: () => `erasure-guard-${token++}`, deadLetter: async () => {}, commit: async () => {} },
      store: target,
      logger: createLogger('silent'),
      metrics: createIngestMetrics(registry),
      batch: { maxRows: rows, maxBytes: 1 << 24, lingerMs: 1 },
      retry: { baseMs: 1, maxMs: 1 },
    });

  /** Writes `records` through a pipeline; `during` runs inside its insert (before the rows land). */
  async function ingest(records: Buffer[], during?: () => Promise<void>): Promise<Record<string, number>> {
    const registry = new Registry();
    const target: Store = during
      ? { ...store, client: store.client, database: store.database, kind: store.kind, insertRaw: async (table, rows, settings) => {
          if (table === 'llm_calls') await during();
          await store.insertRaw(table, rows, settings);
        } }
      : store;
    const queue = pipeline(target, registry, 1000);
    queue.add(part(records));
    await queue.drain();
    await queue.close();
    const values = (await registry.getSingleMetric('gatelog_ingest_erased_rows_total')?.get())?.values ?? [];
    return Object.fromEntries(values.map((v) => [String(v.labels['mode']), v.value]));
  }

  async function stored(events: readonly LlmCallEvent[]): Promise<Map<string, Stored>> {
    const rs = await store.client.query({
      query: `SELECT toString(request_id) AS id, user, request_body, response_body, arrayStringConcat(arrayMap(a -> concat(a.request_body, a.response_body), attempt_io)) AS attempt_bodies
              FROM ${store.database}.llm_calls FINAL WHERE toString(request_id) IN {ids:Array(String)}`,
      query_params: { ids: events.map((e) => e.request_id) },
      format: 'JSONEachRow',
    });
    return new Map((await rs.json<Stored>()).map((r) => [r.id, r]));
  }

  /** Mutations run on llm_calls so far: rows erased before their insert need none. */
  async function mutations(): Promise<number> {
    const rs = await store.client.query({ query: `SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND table = 'llm_calls'`, query_params: { db: store.database }, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n);
  }

  const whole = (e: LlmCallEvent): Stored => ({
    id: e.request_id, user: e.user, request_body: e.request_body, response_body: e.response_body,
    attempt_bodies: (e.attempt_io ?? []).map((a) => a.request_body + a.response_body).join(''),
  });
  const erased = (e: LlmCallEvent): Stored => ({ id: e.request_id, user: '', request_body: '', response_body: '', attempt_bodies: '' });

  it('rows of calls that started before a recorded erasure are stored erased, or not at all; later calls and other people are untouched', async () => {
    const [alice, bob, key, trace] = [uid('alice'), uid('bob'), uid('key'), uid('trace')];
    const early = new Date(Date.now() - 60_000).toISOString();
    const aliceEarly = [sampleEvent({ user: alice, started_at: early, attempt_io: io('a') }, 400), sampleEvent({ user: alice, started_at: early }, 400)];
    const keyEarly = sampleEvent({ key_id: key, user: bob, started_at: early }, 400);
    const traceEarly = sampleEvent({ trace_id: trace, started_at: early }, 400);
    const bobEarly = sampleEvent({ user: bob, started_at: early, attempt_io: io('b') }, 400);
    await eraseCalls(store, EraseRequest.parse({ user: alice }), {});
    await eraseCalls(store, EraseRequest.parse({ key, rows: true }), {});
    await eraseCalls(store, EraseRequest.parse({ trace }), {});
    const aliceLater = sampleEvent({ user: alice, started_at: new Date(Date.now() + 1000).toISOString() }, 400);
    const all = [...aliceEarly, keyEarly, traceEarly, bobEarly, aliceLater];
    // One row not laid out as the proxy writes it (another producer): read by parsing it.
    const { request_id: _id, ...rest } = aliceEarly[1]!;
    const records = all.map((e) => encodeEvent(e));
    records[1] = Buffer.from(JSON.stringify({ ...rest, request_id: aliceEarly[1]!.request_id }));
    const before = await mutations();
    expect(await ingest(records)).toEqual({ bodies: 3, rows: 1 });
    // Applied to the rows on their way in: no mutation, and the row left out never reached the rollups.
    expect(await mutations()).toBe(before);
    const rs = await store.client.query({ query: `SELECT sum(calls) AS n FROM ${store.database}.llm_calls_1m WHERE key_id = {key:String}`, query_params: { key }, format: 'JSONEachRow' });
    expect(Number((await rs.json<{ n: string }>())[0]?.n)).toBe(0);
    const rows = await stored(all);
    expect([...rows.keys()].sort()).toEqual(all.filter((e) => e !== keyEarly).map((e) => e.request_id).sort());
    for (const e of aliceEarly) expect(rows.get(e.request_id)).toEqual(erased(e));
    // A trace erasure empties the bodies and the user, as the erasure's own mutation does.
    expect(rows.get(traceEarly.request_id)).toEqual(erased(traceEarly));
    for (const e of [bobEarly, aliceLater]) expect(rows.get(e.request_id)).toEqual(whole(e));
  });

  it('an erasure by date covers the calls that started before it; a legal hold keeps what it covers', async () => {
    const [held, free] = [uid('held'), uid('free')];
    const old = '2001-03-04T05:06:07.089Z';
    const oldHeld = sampleEvent({ user: held, started_at: old }, 400);
    const oldFree = sampleEvent({ user: free, started_at: old }, 400);
    const heldRecent = sampleEvent({ user: held, started_at: new Date(Date.now() - 60_000).toISOString() }, 400);
    const at = new Date().toISOString();
    await writeHold(store, { id: uid('hold'), version: 1, kind: 'user', value: held, reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    await eraseCalls(store, EraseRequest.parse({ before: '2001-06-01' }), {});
    await eraseCalls(store, EraseRequest.parse({ user: held }), {});
    const before = await mutations();
    expect(await ingest([oldHeld, oldFree, heldRecent].map((e) => encodeEvent(e)))).toEqual({ bodies: 1, rows: 0 });
    expect(await mutations()).toBe(before);
    const rows = await stored([oldHeld, oldFree, heldRecent]);
    expect(rows.get(oldFree.request_id)).toEqual(erased(oldFree));
    expect(rows.get(oldHeld.request_id)).toEqual(whole(oldHeld));
    expect(rows.get(heldRecent.request_id)).toEqual(whole(heldRecent));
  });

  it("an erasure limited to teams covers only those teams' rows in flight; a hold limited to teams keeps only its teams'", async () => {
    const [fay, gus] = [uid('fay'), uid('gus')];
    const early = new Date(Date.now() - 60_000).toISOString();
    const [fayRed, fayBlue, gusRed, gusBlue] = [
      sampleEvent({ user: fay, team: 'red', started_at: early }, 400), sampleEvent({ user: fay, team: 'blue', started_at: early }, 400),
      sampleEvent({ user: gus, team: 'red', started_at: early }, 400), sampleEvent({ user: gus, team: 'blue', started_at: early }, 400),
    ];
    const at = new Date().toISOString();
    await writeHold(store, { id: uid('hold'), version: 1, kind: 'user', value: gus, reason: 'case', teams: ['red'], active: true, created_at: at, updated_at: at, updated_by: 'test' });
    await eraseCalls(store, EraseRequest.parse({ user: fay, teams: ['red'] }), {});
    await eraseCalls(store, EraseRequest.parse({ user: gus }), {});
    const all = [fayRed, fayBlue, gusRed, gusBlue];
    expect(await ingest(all.map((e) => encodeEvent(e)))).toEqual({ bodies: 2, rows: 0 });
    const rows = await stored(all);
    expect(rows.get(fayRed.request_id)).toEqual(erased(fayRed));
    expect(rows.get(fayBlue.request_id)).toEqual(whole(fayBlue));
    expect(rows.get(gusRed.request_id)).toEqual(whole(gusRed));
    expect(rows.get(gusBlue.request_id)).toEqual(erased(gusBlue));
  });

  it('embedded, the requests are read once, then only after this process recorded one', async () => {
    let reads = 0;
    const client = new Proxy(store.client, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (q: { query: string }) => {
          if (q.query.includes('erasure_requests')) reads++;
          return target.query(q as Parameters<typeof target.query>[0]);
        };
      },
    });
    const counted: Store = { ...store, client, database: store.database, kind: store.kind, insertRaw: (t, r, st) => store.insertRaw(t, r, st) };
    const queue = pipeline(counted, new Registry(), 1);
    const write = async (events: LlmCallEvent[]): Promise<void> => {
      for (const e of events) queue.add(part([encodeEvent(e)]));
      await queue.drain();
    };
    await write(Array.from({ length: 5 }, () => sampleEvent())); // five writes of one row each
    expect(reads).toBe(1);
    const user = uid('erin');
    const erin = sampleEvent({ user, started_at: new Date(Date.now() - 1000).toISOString() }, 400);
    await eraseCalls(counted, EraseRequest.parse({ user }), {});
    await write([erin, sampleEvent(), sampleEvent()]);
    await queue.close();
    expect(reads).toBe(2);
    expect((await stored([erin])).get(erin.request_id)).toEqual(erased(erin));
  });

  it('a row an active legal hold covers is stored marked, however old (the retention TTLs read the mark)', async () => {
    const [held, free, trace] = [uid('held'), uid('free'), uid('trace')];
    const at = new Date().toISOString();
    await writeHold(store, { id: uid('hold'), version: 1, kind: 'user', value: held, reason: 'audit', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    await writeHold(store, { id: uid('hold'), version: 1, kind: 'trace', value: trace, reason: 'audit', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    // From a spool after a long outage: older than any body retention.
    const old = '2002-02-02T02:02:02.002Z';
    const events = [sampleEvent({ user: held, started_at: old }, 400), sampleEvent({ user: free, started_at: old, trace_id: trace }, 400), sampleEvent({ user: free, started_at: old }, 400)];
    // The held value inside another field (a body) is not the field itself.
    const lookalike = sampleEvent({ user: free, started_at: old, request_body: JSON.stringify({ messages: [{ role: 'user', content: held }] }) }, 400);
    const registry = new Registry();
    const queue = pipeline(store, registry, 1000);
    queue.add(part([...events, lookalike].map((e) => encodeEvent(e))));
    await queue.drain();
    await queue.close();
    expect((await registry.getSingleMetric('gatelog_ingest_held_rows_total')?.get())?.values[0]?.value).toBe(2);
    const rs = await store.client.query({
      query: `SELECT toString(request_id) AS id, legal_hold FROM ${store.database}.llm_calls FINAL WHERE toString(request_id) IN {ids:Array(String)}`,
      query_params: { ids: [...events, lookalike].map((e) => e.request_id) },
      format: 'JSONEachRow',
    });
    const marks = Object.fromEntries((await rs.json<{ id: string; legal_hold: boolean }>()).map((r) => [r.id, r.legal_hold]));
    expect(marks).toEqual({ [events[0]!.request_id]: true, [events[1]!.request_id]: true, [events[2]!.request_id]: false, [lookalike.request_id]: false });
  });

  it('an erasure recorded while the rows are being inserted is applied to them once they are stored', async () => {
    const [carol, dave] = [uid('carol'), uid('dave')];
    const early = new Date(Date.now() - 60_000).toISOString();
    const carols = [sampleEvent({ user: carol, started_at: early }, 400), sampleEvent({ user: carol, started_at: early }, 400)];
    const daves = [sampleEvent({ user: dave, started_at: early }, 400)];
    const other = sampleEvent({ started_at: early }, 400);
    const all = [...carols, ...daves, other];
    const before = await mutations();
    // Recorded only (as eraseCalls does first); the erasure's own mutation would come after the insert.
    const modes = await ingest(all.map((e) => encodeEvent(e)), async () => {
      await recordErasure(store, EraseRequest.parse({ user: carol }), Date.now());
      await recordErasure(store, EraseRequest.parse({ user: dave, rows: true }), Date.now());
    });
    expect(modes).toEqual({ bodies: 2, rows: 1 });
    expect(await mutations()).toBe(before + 2); // one for the bodies, one for the rows
    const rows = await stored(all);
    expect([...rows.keys()].sort()).toEqual([...carols, other].map((e) => e.request_id).sort());
    for (const e of carols) expect(rows.get(e.request_id)).toEqual(erased(e));
    expect(rows.get(other.request_id)).toEqual(whole(other));
  });

  const score = (key: string, requestId: string, traceId: string, comment: string): Promise<void> =>
    insertFeedback(store, { requestId, traceId, name: 'feedback', value: -1, weight: 1, comment, metadata: {} }, { by: `key:${key}`, source: 'api', keyId: key, team: 'red', user: '' }, Date.now());
  async function sweepOnce(): Promise<void> {
    const sweep = await startRetention({ store, retention: RetentionConfig.parse({}), logger: createLogger('silent') });
    try {
      await sweep.run();
    } finally {
      sweep.stop();
    }
  }
  /** Each stored call of `key`: when it was marked erased (epoch ms; 0 = not). */
  async function erasedAt(key: string): Promise<Record<string, number>> {
    const rs = await store.client.query({
      query: `SELECT toString(request_id) AS id, toUnixTimestamp64Milli(erased_at) AS at FROM ${store.database}.llm_calls FINAL WHERE key_id = {key:String}`,
      query_params: { key },
      format: 'JSONEachRow',
    });
    return Object.fromEntries((await rs.json<{ id: string; at: string | number }>()).map((r) => [r.id, Number(r.at)]));
  }
  const feedbackOf = async (key: string): Promise<unknown> =>
    (await store.client.query({ query: `SELECT request_id, trace_id, comment FROM ${store.database}.call_feedback WHERE key_id = {key:String}`, query_params: { key }, format: 'JSONEachRow' })).json();

  it('the feedback of calls stored erased (on their way in, or just after) goes at the next retention sweep, by request id and by trace', async () => {
    const [hal, ida, key, trace] = [uid('hal'), uid('ida'), uid('key'), uid('trace')];
    const early = new Date(Date.now() - 60_000).toISOString();
    const filtered = sampleEvent({ user: hal, key_id: key, trace_id: trace, started_at: early }, 400);
    const mutated = sampleEvent({ user: ida, key_id: key, started_at: early }, 400);
    const kept = sampleEvent({ key_id: key, started_at: early }, 400);
    // Scored the moment they answered, before ingest stored them.
    for (const e of [filtered, mutated, kept]) await score(key, e.request_id, '', `before ${e.request_id}`);
    await eraseCalls(store, EraseRequest.parse({ user: hal }), {});
    // Ida's erasure is asked while the rows are being inserted: applied by a mutation after.
    await ingest([filtered, mutated, kept].map((e) => encodeEvent(e)), async () => {
      await recordErasure(store, EraseRequest.parse({ user: ida }), Date.now());
    });
    await score(key, filtered.request_id, '', 'after, on the call');
    await score(key, '', trace, 'after, on the trace');
    expect(await feedbackForCall(store, filtered)).toEqual([]);
    await sweepOnce();
    expect(await feedbackOf(key)).toEqual([{ request_id: kept.request_id, trace_id: '', comment: `before ${kept.request_id}` }]);
    // What the sweep goes by: both rows are stored marked erased.
    const marks = await erasedAt(key);
    expect(Object.fromEntries(Object.entries(marks).map(([id, at]) => [id, at > 0]))).toEqual({ [filtered.request_id]: true, [mutated.request_id]: true, [kept.request_id]: false });
  });

  it('a call an erasure scrubbed in a spool before it reached ingest (its user gone) is stored marked when it arrives, and its feedback goes', async () => {
    const [jo, key] = [uid('jo'), uid('key')];
    const early = new Date(Date.now() - 60_000).toISOString();
    const [spooled, kept] = [sampleEvent({ user: jo, key_id: key, started_at: early }, 400), sampleEvent({ key_id: key, started_at: early }, 400)];
    for (const e of [spooled, kept]) await score(key, e.request_id, '', `on ${e.request_id}`);
    // As a proxy's erasure watch scrubs its spool with a recorded request (erasure-watch.ts).
    const recorded = await recordErasure(store, EraseRequest.parse({ user: jo }), Date.now());
    const scrubbed = scrubbedInPlace(encodeEvent(spooled), [erasureRule(recorded, [])]);
    expect(scrubbed?.includes(jo)).toBe(false);
    const arrived = Date.now();
    await ingest([scrubbed!, encodeEvent(kept)]);
    await sweepOnce();
    expect(await feedbackOf(key)).toEqual([{ request_id: kept.request_id, trace_id: '', comment: `on ${kept.request_id}` }]);
    const marks = await erasedAt(key);
    // Stamped when stored (the sweep looks for calls erased since its last run), not when scrubbed.
    expect(marks[spooled.request_id]).toBeGreaterThanOrEqual(arrived);
    expect(marks[kept.request_id]).toBe(0);
  });
});

// The HTTP store path (core openStore with a url) against the chDB-backed HTTP fixture:
// migrations, raw inserts with settings, parameterized reads, and server errors classified
// the way ingest needs (data errors vs. transient).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countCalls, getCall, migrate, openStore, type Store } from '@gatelog/core';
import { classifyInsertError } from '@gatelog/ingest';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { sampleEvent } from './distributed-events.ts';

describe('ClickHouse over HTTP (chDB fixture)', () => {
  const ch = new ClickHouseHttpFixture();
  let store: Store;

  beforeAll(async () => {
    await ch.start();
    store = await openStore({ clickhouse: { url: ch.url, database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, ch.dir);
    await migrate(store);
  });

  afterAll(async () => {
    await store.close();
    await ch.close();
  });

  it('pings, migrates idempotently and reads parameterized queries', async () => {
    expect((await store.client.ping()).success).toBe(true);
    expect(await migrate(store)).toEqual([]);
    const rs = await store.client.query({ query: 'SELECT {a:String} AS a, {n:UInt32} + 1 AS n', query_params: { a: "it's\ta", n: 41 }, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ a: "it's\ta", n: 42 }]);
  });

  it('inserts raw rows with settings and reads them back', async () => {
    const events = [sampleEvent(), sampleEvent()];
    const rows = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await store.insertRaw('llm_calls', rows, { insert_deduplication_token: 'tok-1' });
    await store.insertRaw('llm_calls', rows, { insert_deduplication_token: 'tok-1' }); // a replay
    const got = await getCall(store, events[0]!.request_id);
    expect(got?.request_id).toBe(events[0]!.request_id);
    const inserts = ch.requests.filter((r) => r.query.startsWith('INSERT'));
    expect(inserts.at(-1)?.settings).toMatchObject({ insert_deduplication_token: 'tok-1', async_insert: '0' });
    // Settings do not leak into the next request.
    const rs = await store.client.query({ query: "SELECT getSetting('insert_deduplication_token') AS t", format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ t: '' }]);
    const counts = await countCalls(store);
    expect(counts.distinct).toBe(counts.rows);
  });

  it('reports errors with the server code and name', async () => {
    const bad = Buffer.from('{"request_id":"not-a-uuid","started_at":"x"}\n');
    const err = await store.insertRaw('llm_calls', bad).then(() => null, (e: unknown) => e);
    expect(err).not.toBeNull();
    expect(classifyInsertError(err).data).toBe(true);
    const missing = await store.client.query({ query: 'SELECT 1 FROM nope.nothing' }).then(() => null, (e: unknown) => e as { code?: string; type?: string });
    expect(missing).toMatchObject({ code: '81', type: 'UNKNOWN_DATABASE' });
  });

  it('is unreachable while stopped and comes back on the same port', async () => {
    await ch.stop();
    const down = await store.client.query({ query: 'SELECT 1' }).then(() => null, (e: unknown) => e);
    expect(classifyInsertError(down).data).toBe(false);
    await ch.restart();
    const rs = await store.client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ one: 1 }]);
  });
});

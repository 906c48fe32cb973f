// Rows already stored are left out of an insert: the identity walk over a row's bytes, and the
// lookup against a real engine (chDB, one store for the file; each test its own request ids).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, type LlmCallEvent, type Store } from '@gatelog/core';
import { IDS_PER_QUERY, rowKey, storedIds, withoutStored } from './stored-rows.ts';
import { sampleEvent } from '../../test/e2e/distributed-events.ts';
import { tempEmbeddedStore, type TempStore } from '../../test/support/embedded-store.ts';

const ID = '0b6f1d5e-3c2a-4f7b-9e8d-1a2b3c4d5e6f';
const AT = '2026-12-04T15:01:02.345Z';
const row = (json: string): Buffer => Buffer.from(json);

describe('rowKey', () => {
  it('reads request_id and started_at where the proxy writes them', () => {
    const e = sampleEvent({ request_id: ID, started_at: AT });
    expect(rowKey(encodeEvent(e))).toEqual({ id: ID, ms: Date.parse(AT) });
  });

  it('the layout the proxy writes, read by position, agrees with the walk over any layout', () => {
    const times = ['2024-02-29T23:59:59.999Z', '2026-01-01T00:00:00.000Z', '1999-12-31T12:30:45.007Z'];
    for (let n = 0; n < 200; n++) {
      const started_at = times[n] ?? new Date(Date.parse('2020-01-01T00:00:00.000Z') + Math.floor(Math.random() * 3e11)).toISOString();
      const e = sampleEvent({ started_at, gatelog_version: n % 2 ? '1.2.3-rc.1+build' : '0.1.0' });
      const want = { id: e.request_id, ms: Date.parse(started_at) };
      const bytes = encodeEvent(e);
      expect(rowKey(bytes)).toEqual(want);
      expect(rowKey(Buffer.concat([Buffer.from(' '), bytes]))).toEqual(want); // not the proxy's layout: walked
    }
    // Near misses of the layout are walked, not misread.
    const e = sampleEvent({ request_id: ID, started_at: AT });
    const text = encodeEvent(e).toString();
    expect(rowKey(row(text.replace(ID, ID.toUpperCase())))).toEqual({ id: ID, ms: Date.parse(AT) });
    expect(rowKey(row(text.replace(AT, '2026-13-04T15:01:02.345Z')))).toBeNull();
    expect(rowKey(row(text.replace(AT, '2026-12-04T15:01:02Z')))).toEqual({ id: ID, ms: Date.parse('2026-12-04T15:01:02Z') });
    expect(rowKey(row(text.replace('"gatelog_version":"', '"gatelog_version":"\\"')))).toEqual({ id: ID, ms: Date.parse(AT) });
  });

  it('reads them in any order, past nested values, strings with escapes and whitespace', () => {
    const json = ` { "tags" : {"request_id":"00000000-0000-4000-8000-000000000000","k":"a \\" \\\\"},
      "attempts":[{"provider":"p","model":"m"},[1,{"x":"]}"}]],"n":-1.5e3,"ok":true,"none":null,
      "request_body":"{\\"request_id\\":\\"11111111-1111-4111-8111-111111111111\\"}",
      "started_at" : "${AT}", "request_id":"${ID.toUpperCase()}", "later": [ ] }`;
    expect(rowKey(row(json))).toEqual({ id: ID, ms: Date.parse(AT) });
  });

  it('nothing when a row has not both, in a plain form', () => {
    expect(rowKey(row(`{"request_id":"${ID}"}`))).toBeNull();
    expect(rowKey(row(`{"started_at":"${AT}"}`))).toBeNull();
    expect(rowKey(row(`{"request_id":"not-a-uuid","started_at":"${AT}"}`))).toBeNull();
    expect(rowKey(row(`{"request_id":"${ID}","started_at":"2026-12-04 15:01:02"}`))).toBeNull();
    expect(rowKey(row(`{"request_id":"\\u0030b6f1d5e-3c2a-4f7b-9e8d-1a2b3c4d5e6f","started_at":"${AT}"}`))).toBeNull();
    expect(rowKey(row(`{"tags":{"request_id":"${ID}","started_at":"${AT}"}}`))).toBeNull();
    expect(rowKey(row(`[{"request_id":"${ID}","started_at":"${AT}"}]`))).toBeNull();
    expect(rowKey(row(`{"request_id":"${ID}","started_at":"${AT}`))).toBeNull();
    expect(rowKey(row(`{"a":"unterminated,"request_id":"${ID}"`))).toBeNull();
    expect(rowKey(row(''))).toBeNull();
  });
});

describe('withoutStored (chDB)', () => {
  let temp: TempStore;
  let store: Store;

  beforeAll(async () => {
    temp = await tempEmbeddedStore('gatelog-stored-rows');
    store = temp.store;
  });

  afterAll(() => temp.close());

  const insert = (events: LlmCallEvent[]): Promise<void> => store.insertRaw('llm_calls', Buffer.from(`${events.map((e) => encodeEvent(e).toString()).join('\n')}\n`));

  it('leaves out rows stored already and rows repeated within the write, keeping order', async () => {
    const stored = [sampleEvent(), sampleEvent()];
    await insert(stored);
    const fresh = [sampleEvent(), sampleEvent(), sampleEvent()];
    const records = [fresh[0]!, stored[0]!, fresh[1]!, fresh[0]!, stored[1]!, fresh[2]!].map(encodeEvent);
    const noKey = row('{"schema_version":1,"note":"no identity"}');
    const r = await withoutStored(store, [...records, noKey]);
    expect(r.records.map((b) => rowKey(b)?.id ?? 'none')).toEqual([...fresh.map((e) => e.request_id), 'none']);
    expect(r.records.at(-1)).toBe(noKey);
    expect(r.dropped).toBe(3);
    expect(r.keptIds).toBe(fresh.map((e) => e.request_id).join(','));
  });

  it('finds stored rows far apart in time, and in more rows than one lookup takes', async () => {
    const day = 86_400_000;
    const base = Date.parse('2026-06-01T00:00:00.000Z');
    // Stored rows over a year, one per 40 days (separate ranges), one at the same instant as a fresh row.
    const old = Array.from({ length: 10 }, (_, i) => sampleEvent({ started_at: new Date(base - i * 40 * day).toISOString() }));
    await insert(old);
    const many = Array.from({ length: IDS_PER_QUERY + 500 }, (_, i) => sampleEvent({ started_at: new Date(base + i).toISOString() }));
    await insert(many.slice(-3)); // stored ones in the second lookup
    const records = [...many, ...old].map(encodeEvent);
    const r = await withoutStored(store, records);
    expect(r.dropped).toBe(13);
    expect(r.records).toHaveLength(many.length - 3);
    const ids = await storedIds(store, [...old, ...many.slice(0, 5)].map((e) => ({ id: e.request_id, ms: Date.parse(e.started_at) })));
    expect([...ids].sort()).toEqual(old.map((e) => e.request_id).sort());
  });

  it('a stored id is found only within its own time: another row that reuses it elsewhere is kept', async () => {
    const e = sampleEvent({ started_at: '2026-03-01T10:00:00.000Z' });
    await insert([e]);
    const moved = encodeEvent({ ...e, started_at: '2026-09-01T10:00:00.000Z' });
    expect((await withoutStored(store, [moved])).dropped).toBe(0);
    expect((await withoutStored(store, [encodeEvent(e)])).dropped).toBe(1);
  });

  it('an empty write asks nothing', async () => {
    expect(await withoutStored(store, [])).toEqual({ records: [], dropped: 0, keptIds: '' });
  });
});

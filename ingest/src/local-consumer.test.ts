// Real engine: chDB allows one on-disk path per process, so this file shares one store (opened
// in beforeAll) and each test uses its own request ids, log dir and metrics registry.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  LlmCallEvent,
  LocalLogWriter,
  OffsetFile,
  createLogger,
  encodeEvent,
  getCall,
  listCalls,
  migrate,
  openStore,
  type Store,
} from '@gatelog/core';
import { startLocalIngest, type LocalIngest, type LocalIngestDeps } from './local-consumer.ts';
import { sampleEvent } from '../../test/e2e/distributed-events.ts';

let root: string;
let store: Store;
const logger = createLogger('silent');
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gatelog-ingest-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, root);
  await migrate(store);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const event = (over: Partial<LlmCallEvent> = {}): LlmCallEvent => sampleEvent(over);

interface Harness {
  dir: string;
  writer: LocalLogWriter;
  registry: Registry;
  deps: LocalIngestDeps;
  start(over?: Partial<LocalIngestDeps>): LocalIngest;
  write(events: LlmCallEvent[]): string[];
}

function harness(over: Partial<LocalIngestDeps> = {}, tailBytes = 0): Harness {
  const dir = mkdtempSync(join(root, 'case-'));
  const writer = new LocalLogWriter({ dir: join(dir, 'events'), fsyncMs: 0, tailBytes });
  cleanups.push(() => writer.close());
  const registry = new Registry();
  const deps: LocalIngestDeps = {
    logDir: join(dir, 'events'),
    offsetPath: join(dir, 'ingest.offset'),
    deadLetterPath: join(dir, 'dead-letter.jsonl'),
    store,
    logger,
    registry,
    batchRows: 100,
    batchMs: 50,
    notify: (l) => writer.onAppend(l),
    retry: { baseMs: 10, maxMs: 40 },
    ...over,
  };
  return {
    dir,
    writer,
    registry,
    deps,
    start(more = {}) {
      const ingest = startLocalIngest({ ...deps, ...more });
      cleanups.push(() => ingest.stop());
      return ingest;
    },
    write(events) {
      for (const e of events) writer.append(encodeEvent(e));
      return events.map((e) => e.request_id);
    },
  };
}

const events = (n: number, over: Partial<LlmCallEvent> = {}): LlmCallEvent[] => Array.from({ length: n }, () => event(over));

async function counts(ids: string[]): Promise<{ final: number; distinct: number; raw: number }> {
  const rs = await store.client.query({
    query: `SELECT
              (SELECT count() FROM gatelog.llm_calls FINAL WHERE request_id IN {ids:Array(UUID)}) AS final,
              (SELECT uniqExact(request_id) FROM gatelog.llm_calls FINAL WHERE request_id IN {ids:Array(UUID)}) AS distinct,
              (SELECT count() FROM gatelog.llm_calls WHERE request_id IN {ids:Array(UUID)}) AS raw`,
    query_params: { ids },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ final: string; distinct: string; raw: string }>();
  return { final: Number(r?.final), distinct: Number(r?.distinct), raw: Number(r?.raw) };
}

/** Calls of this key as the minute rollup counted them (what the spend pages sum). */
async function rolledUp(key: string): Promise<number> {
  const rs = await store.client.query({ query: 'SELECT sum(calls) AS n FROM gatelog.llm_calls_1m WHERE key_id = {key:String}', query_params: { key }, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]?.n);
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  const want = (v: { labels: object; metricName?: string }): boolean =>
    Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val) && (v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`);
  return values.filter(want).reduce((s, v) => s + v.value, 0);
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('startLocalIngest (chDB)', () => {
  it('lands events in llm_calls with their fields', async () => {
    const h = harness();
    const ingest = h.start();
    const sent = [
      event({ stream: true, ttft_ms: 3.25, tags: { team: 'search', env: 'prod' }, trace_id: 'tr-1', key_name: 'ci' }),
      event({ status: 502, outcome: 'error', error_type: 'upstream_error', error_message: 'bad gateway', cost_usd: null, output_tokens: 0 }),
      event({ request_body: 'ünïcødé ✓ "quoted"\nnewline', attempts: [] }),
    ];
    const ids = h.write(sent);
    await ingest.flush();
    for (const e of sent) {
      const got = await getCall(store, e.request_id);
      expect(got).not.toBeNull();
      const { schema_version: _v, ...expected } = e;
      // Every field of the event is stored as sent (an event without redactions has an empty
      // map); columns the event does not carry (trace context, replay, repricing) read as their defaults.
      expect(got).toMatchObject({ redactions: {}, ...expected });
    }
    const listed = await listCalls(store, { key: 'ci' });
    expect(listed.map((c) => c.request_id)).toContain(ids[0]);
    expect(ingest.stats()).toEqual({ offset: h.writer.endOffset, rows: 3 });
    expect(new OffsetFile(h.deps.offsetPath).load()).toBe(h.writer.endOffset);
    expect(await metric(h.registry, 'gatelog_ingest_rows_total')).toBe(3);
    expect(await metric(h.registry, 'gatelog_ingest_lag_bytes')).toBe(0);
    expect(await metric(h.registry, 'gatelog_ingest_insert_seconds')).toBeGreaterThanOrEqual(1);
  });

  it('takes just-appended events from the writer\'s memory and the rest from the file: every event once, byte for byte', async () => {
    const one = encodeEvent(event()).length;
    // A tail that holds ~5 events: appended in bursts of 12, most events come from the file.
    const h = harness({}, one * 5 + 64);
    const early = h.write(events(7)); // before ingest starts: file only
    const tail = h.writer.tail!;
    let fromMemory = 0;
    const read = tail.read.bind(tail);
    tail.read = (from, max) => {
      const r = read(from, max);
      fromMemory += r?.records.length ?? 0;
      return r;
    };
    const ingest = h.start({ tail });
    const sent: LlmCallEvent[] = [];
    for (let burst = 0; burst < 5; burst++) {
      const es = events(12);
      sent.push(...es);
      h.write(es);
      await new Promise((r) => setTimeout(r, 20));
    }
    await ingest.flush();
    const ids = [...early, ...sent.map((e) => e.request_id)];
    expect(await counts(ids)).toEqual({ final: ids.length, distinct: ids.length, raw: ids.length });
    for (const e of sent.slice(-3)) {
      const { schema_version: _v, ...expected } = e;
      expect(await getCall(store, e.request_id)).toMatchObject(expected);
    }
    // Both paths were taken.
    expect(fromMemory).toBeGreaterThan(0);
    expect(fromMemory).toBeLessThan(ids.length);
  });

  it('closes a batch at batchRows without waiting for batchMs', async () => {
    const h = harness({ batchRows: 5, batchMs: 60_000 });
    const ingest = h.start();
    const ids = h.write(events(12));
    await until(() => ingest.stats().rows === 10);
    // The 2 left over wait for the clock (a minute here), or a flush.
    await new Promise((r) => setTimeout(r, 150));
    expect(ingest.stats().rows).toBe(10);
    expect(await metric(h.registry, 'gatelog_ingest_lag_bytes')).toBeGreaterThan(0);
    await ingest.flush();
    expect(ingest.stats().rows).toBe(12);
    expect(await counts(ids)).toMatchObject({ final: 12, distinct: 12 });
    expect(await metric(h.registry, 'gatelog_ingest_batches_total')).toBe(3);
    expect(await metric(h.registry, 'gatelog_ingest_batch_rows')).toBe(3); // histogram count
    expect(await metric(h.registry, 'gatelog_ingest_lag_bytes')).toBe(0);
  });

  it('closes a batch at batchMs, polling when no notify is given', async () => {
    const h = harness({ batchRows: 1000, batchMs: 200, notify: undefined });
    const ingest = h.start();
    const t0 = Date.now();
    const ids = h.write(events(3));
    await until(() => ingest.stats().rows === 3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(await metric(h.registry, 'gatelog_ingest_batches_total')).toBe(1);
    expect(await counts(ids)).toMatchObject({ final: 3, distinct: 3 });
  });

  it('a replay from offset 0 after the rows were inserted (offset file lost) inserts none of them again', async () => {
    const h = harness({ batchRows: 7 });
    const first = h.start();
    const key = `key-${crypto.randomUUID()}`;
    const ids = h.write(events(20, { key_id: key }));
    await first.flush();
    await first.stop();
    expect(first.stats().offset).toBe(h.writer.endOffset);
    // The offset file lost (a new volume, an operator's rm): the log is read from its start.
    rmSync(h.deps.offsetPath);
    const registry = new Registry();
    const again = h.start({ registry });
    const more = h.write(events(5, { key_id: key }));
    await again.flush();
    expect(again.stats().rows).toBe(5);
    expect(await metric(registry, 'gatelog_ingest_duplicates_skipped_total')).toBe(20);
    // Not one physical duplicate: the rollup views count what each insert carries.
    expect(await counts([...ids, ...more])).toEqual({ final: 25, distinct: 25, raw: 25 });
    expect(await rolledUp(key)).toBe(25);
  });

  it('a log read on after a clean stop is not looked up against ClickHouse', async () => {
    const h = harness({ batchRows: 5 });
    const first = h.start();
    h.write(events(5));
    await first.flush();
    await first.stop();
    const queries: string[] = [];
    const spy: Store = { ...store, client: new Proxy(store.client, { get: (t, p, r) => (p === 'query' ? (q: { query: string }) => (queries.push(q.query), t.query(q as never)) : Reflect.get(t, p, r)) }) };
    const again = h.start({ store: spy, registry: new Registry() });
    const ids = h.write(events(8));
    await again.flush();
    expect(again.stats().rows).toBe(8);
    expect(queries.filter((q) => q.includes('llm_calls'))).toEqual([]);
    expect((await counts(ids)).raw).toBe(8);
  });

  it('a batch inserted but not committed before a crash is re-formed exactly and its stored rows left out: the rollups count them once', async () => {
    const h = harness({ batchRows: 1000, batchMs: 60_000 });
    const key = `key-${crypto.randomUUID()}`;
    const ids = h.write(events(12, { key_id: key }));
    // Capture the offset file as it is while the batch is in flight (pending written, not committed).
    let inFlight: string | undefined;
    const spy: Store = {
      ...store,
      async insertRaw(table, rows, settings) {
        inFlight ??= readFileSync(h.deps.offsetPath, 'utf8');
        await store.insertRaw(table, rows, settings);
      },
    };
    const first = h.start({ store: spy });
    await first.flush();
    await first.stop();
    expect(JSON.parse(inFlight!)).toMatchObject({ offset: 0, pending: { start: 0, end: h.writer.endOffset } });
    // Crash between insert and commit: the state on disk is the in-flight one; more calls arrived since.
    writeFileSync(h.deps.offsetPath, inFlight!);
    const later = h.write(events(3, { key_id: key }));
    const registry = new Registry();
    const again = h.start({ registry });
    await again.flush();
    expect(again.stats().offset).toBe(h.writer.endOffset);
    expect(await metric(registry, 'gatelog_ingest_duplicates_skipped_total')).toBe(12);
    // Physically one row each (no FINAL needed), and the minute rollup counted each call once:
    // the dedup token alone kept the replay out of the table, not out of the views.
    expect(await counts(ids)).toEqual({ final: 12, distinct: 12, raw: 12 });
    expect(await counts(later)).toEqual({ final: 3, distinct: 3, raw: 3 });
    expect(await rolledUp(key)).toBe(15);
  });

  it('resumes from the committed offset without re-inserting', async () => {
    const h = harness();
    const first = h.start();
    h.write(events(4));
    await first.flush();
    await first.stop();
    const registry = new Registry();
    const second = h.start({ registry });
    const ids = h.write(events(3));
    await second.flush();
    expect(second.stats().rows).toBe(3);
    expect(await metric(registry, 'gatelog_ingest_rows_total')).toBe(3);
    expect(await counts(ids)).toMatchObject({ final: 3 });
  });

  it('sends poison records to the dead-letter file and lands the rest; a bad number alone is repaired, not dead-lettered', async () => {
    const h = harness();
    const ingest = h.start();
    const good = events(6);
    const wrongType = JSON.stringify({ ...event(), input_tokens: 'many' });
    const notJson = 'this is not JSON {';
    h.write(good.slice(0, 2));
    h.writer.append(Buffer.from(wrongType));
    h.write(good.slice(2, 4));
    h.writer.append(Buffer.from(notJson));
    h.write(good.slice(4));
    await ingest.flush();
    expect(await counts(good.map((e) => e.request_id))).toMatchObject({ final: 6, distinct: 6 });
    const letters = readFileSync(h.deps.deadLetterPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: string; reason: { code: string; type: string } });
    expect(letters.map((l) => l.record)).toEqual([notJson]);
    for (const l of letters) expect(l.reason.type).toMatch(/^CANNOT_PARSE/);
    // The call with a non-numeric token count is stored (its tokens treated as unknown).
    const repairedId = (JSON.parse(wrongType) as { request_id: string }).request_id;
    expect(await counts([repairedId])).toMatchObject({ final: 1 });
    expect(ingest.stats()).toEqual({ offset: h.writer.endOffset, rows: 7 });
    expect(await metric(h.registry, 'gatelog_ingest_dead_letter_total')).toBe(1);
    expect(await metric(h.registry, 'gatelog_ingest_insert_errors_total', { kind: 'data' })).toBeGreaterThanOrEqual(1);
    expect(await metric(h.registry, 'gatelog_ingest_insert_errors_total', { kind: 'transient' })).toBe(0);
  });

  it('keeps the offset while the store fails and loses nothing once it recovers', async () => {
    let failures = 0;
    let down = true;
    const flaky: Store = {
      ...store,
      insertRaw(table, rows, settings) {
        if (down) {
          failures++;
          return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        }
        return store.insertRaw(table, rows, settings);
      },
    };
    const h = harness({ store: flaky });
    const ingest = h.start();
    const ids = h.write(events(5));
    const flushed = ingest.flush();
    await until(() => failures >= 3);
    expect(ingest.stats()).toEqual({ offset: 0, rows: 0 });
    expect(new OffsetFile(h.deps.offsetPath).load()).toBe(0);
    expect(await metric(h.registry, 'gatelog_ingest_lag_bytes')).toBe(h.writer.endOffset);
    down = false;
    await flushed;
    expect(ingest.stats()).toEqual({ offset: h.writer.endOffset, rows: 5 });
    expect(await counts(ids)).toMatchObject({ final: 5, distinct: 5 });
    expect(await metric(h.registry, 'gatelog_ingest_insert_errors_total', { kind: 'transient' })).toBe(failures);
    expect(existsSync(h.deps.deadLetterPath)).toBe(false);
  });

  it('stop() drains and commits what was appended; with the store down it gives up in time, uncommitted', async () => {
    const h = harness({ batchMs: 60_000 });
    const ingest = h.start();
    const ids = h.write(events(4));
    await ingest.stop();
    expect(ingest.stats()).toEqual({ offset: h.writer.endOffset, rows: 4 });
    expect(await counts(ids)).toMatchObject({ final: 4 });
    await expect(ingest.flush()).rejects.toMatchObject({ code: 'GATELOG_INGEST_STOPPED' });

    const down: Store = { ...store, insertRaw: () => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })) };
    const stuck = h.start({ store: down, stopTimeoutMs: 200, registry: new Registry() });
    const committed = h.writer.endOffset;
    h.write(events(2));
    const t0 = Date.now();
    await stuck.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(stuck.stats().offset).toBe(committed);
    expect(new OffsetFile(h.deps.offsetPath).load()).toBe(committed);
  });

  it('prunes fully consumed segments', async () => {
    const h = harness({ batchRows: 3 });
    h.writer.close();
    const writer = new LocalLogWriter({ dir: h.deps.logDir, segmentBytes: 4096, fsyncMs: 0 });
    cleanups.push(() => writer.close());
    const ingest = h.start({ notify: (l) => writer.onAppend(l) });
    for (const e of events(30)) writer.append(encodeEvent(e));
    await ingest.flush();
    expect(ingest.stats().offset).toBe(writer.endOffset);
    const { listSegments } = await import('@gatelog/core');
    expect(listSegments(h.deps.logDir)).toHaveLength(1);
  });
});

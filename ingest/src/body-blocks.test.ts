// Ingest's block split against the real engine (chDB): large events are stored as skeleton +
// blocks that read back byte for byte, attempt bodies included; small events pass untouched;
// a block written recently is not written again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig, migrate, newRequestId, openStore, type Store } from '@gatelog/core';
import { loadBlocks, reconstruct, partsOf } from '@gatelog/core/store/blocks';
import { withTopLevel } from '@gatelog/core/json/top-level';
import { BlockWriter, splitRecord } from './body-blocks.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-body-blocks-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const conversation = (turns: number): string => JSON.stringify({
  model: 'claude-sonnet',
  system: [{ type: 'text', text: 'You are careful. \u00e9\u4e2d\ud83d\ude00 "quoted" \\ '.repeat(200) }],
  messages: Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} `.repeat(400) })),
}, null, 1);

function event(body: string, upstream = ''): Record<string, unknown> {
  return {
    request_id: newRequestId(), started_at: new Date().toISOString(), client_api: 'anthropic.messages', outcome: 'success',
    request_body: body, response_body: '{"ok":true}', request_bytes: Buffer.byteLength(body),
    ...(upstream ? { attempt_io: [{ request_body: upstream }] } : {}),
  };
}

describe('body blocks in ingest', () => {
  it('stores a large event as skeleton + blocks that reconstruct byte for byte', async () => {
    const w = new BlockWriter();
    const first = conversation(20);
    const second = conversation(21);
    const events = [event(first), event(second)];
    const part = { records: events.map((e) => Buffer.from(JSON.stringify(e))) };
    const written = await w.write(store, [part]);
    expect(written).toBeGreaterThan(5);
    await store.insertRaw('llm_calls', Buffer.from(`${part.records.map(String).join('\n')}\n`));
    const rs = await store.client.query({
      query: `SELECT toString(request_id) AS id, request_body, request_parts FROM ${store.database}.llm_calls WHERE request_id IN ({ids:Array(UUID)})`,
      query_params: { ids: events.map((e) => e['request_id']) },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ id: string; request_body: string; request_parts: unknown[] }>();
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      const parts = partsOf(r.request_parts as never);
      expect(parts.length).toBeGreaterThan(0);
      const blocks = await loadBlocks(store, parts.map((p) => p.hash));
      const want = events.find((e) => e['request_id'] === r.id)!['request_body'] as string;
      expect(r.request_body.length).toBeLessThan(want.length / 5);
      expect(reconstruct(r.request_body, parts, blocks) === want).toBe(true);
    }
    // The second call shares all of the first call's blocks but the last unfinished ones.
    const again = { records: [Buffer.from(JSON.stringify(event(conversation(22))))] };
    expect(await w.write(store, [again])).toBeLessThanOrEqual(2);
    // A block deleted since it was written (an erasure) is written again, not assumed stored.
    await store.client.command({ query: `ALTER TABLE ${store.database}.llm_blocks DELETE WHERE 1`, clickhouse_settings: { mutations_sync: '2' } });
    const after = { records: [Buffer.from(JSON.stringify(event(conversation(22))))] };
    expect(await w.write(store, [after])).toBeGreaterThan(5);
  });

  it('splits each attempt body too, and leaves small events as they came', () => {
    const small = Buffer.from(JSON.stringify(event('{"messages":[{"role":"user","content":"hi"}]}')));
    expect(splitRecord(small)).toBeNull();
    const upstream = conversation(30).replace('claude-sonnet', 'claude-sonnet-4-5-20250929');
    const s = splitRecord(Buffer.from(JSON.stringify(event(conversation(30), upstream))))!;
    const e = JSON.parse(s.record.toString()) as { request_parts: unknown[]; attempt_io: { request_body: string; request_parts: unknown[] }[] };
    const blocks = new Map(s.blocks.map((b) => [b.hash, b.data.toString()]));
    expect(e.request_parts.length).toBeGreaterThan(0);
    const io = e.attempt_io[0]!;
    expect(reconstruct(io.request_body, partsOf(io.request_parts as never), blocks)).toBe(upstream);
  });

  it('adds next to nothing per small event (µs/event printed)', () => {
    const w = new BlockWriter();
    const small = Buffer.from(JSON.stringify(event(JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(1800) }] }))));
    const large = Buffer.from(JSON.stringify(event(conversation(200))));
    const time = (rec: Buffer, n: number): number => {
      const parts = Array.from({ length: n }, () => ({ records: [rec] }));
      const t0 = performance.now();
      for (const p of parts) w.split(p);
      return ((performance.now() - t0) * 1000) / n;
    };
    const smallUs = time(small, 20_000);
    const largeUs = time(large, 20);
    console.log(`body blocks: ${small.length} B event ${smallUs.toFixed(2)} µs, ${large.length} B event ${largeUs.toFixed(0)} µs`);
    expect(smallUs).toBeLessThan(50);
  });

  it('writes back an attempt\'s request carried as request_set, for every team, before splitting it', () => {
    const set = { model: '"claude-sonnet-4-5-20250929"', stream_options: '{"include_usage":true}' };
    const client = conversation(30);
    const upstream = withTopLevel(client, set)!;
    const carried = (body: string, team = ''): Buffer => Buffer.from(JSON.stringify({ ...event(body), team, attempt_io: [{ request_body: '', request_set: set, truncated: false }] }));
    const s = splitRecord(carried(client))!;
    const e = JSON.parse(s.record.toString()) as { attempt_io: Record<string, unknown>[] };
    const io = e.attempt_io[0]!;
    expect(io).not.toHaveProperty('request_set');
    expect(reconstruct(io['request_body'] as string, partsOf(io['request_parts'] as never), new Map(s.blocks.map((b) => [b.hash, b.data.toString()])))).toBe(upstream);
    // A team whose calls are stored whole gets its request back whole.
    const whole = splitRecord(carried(client, 'keep-whole'), undefined, ['keep-whole'])!;
    const wio = (JSON.parse(whole.record.toString()) as { attempt_io: Record<string, unknown>[] }).attempt_io[0]!;
    expect(whole.blocks).toEqual([]);
    expect(wio['request_body']).toBe(upstream);
    expect(wio).not.toHaveProperty('request_set');
    // With no call request left to read it over (erased, stripped), the attempt's is empty and flagged.
    const erased = Buffer.from(JSON.stringify({ ...event(''), padding: 'x'.repeat(40_000), attempt_io: [{ request_body: '', request_set: set, truncated: false }] }));
    const eio = (JSON.parse(splitRecord(erased)!.record.toString()) as { attempt_io: Record<string, unknown>[] }).attempt_io[0]!;
    expect(eio).toMatchObject({ request_body: '', truncated: true });
    expect(eio).not.toHaveProperty('request_set');
  });
});

// Body blocks under erasure, legal holds and retention, against the real engine (chDB): erasure
// deletes the blocks no remaining call uses and keeps shared ones; a held call's blocks are
// refreshed so their TTL never removes them; the TTLs are applied from the configuration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { newRequestId } from '../ids.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { splitBody } from './blocks.ts';
import { eraseCalls } from './erasure.ts';
import { RetentionConfig, applyRetention, markHolds, writeHold } from './retention.ts';
import { getCall } from './queries.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-block-retention-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const shared = 'shared system prompt '.repeat(200);
const bodyOf = (who: string): string => JSON.stringify({ system: shared, messages: [{ role: 'user', content: `${who} private words `.repeat(2000) }] });

async function seed(user: string): Promise<{ id: string; hashes: string[] }> {
  const s = splitBody(bodyOf(user))!;
  const id = newRequestId();
  const seen = Math.floor(Date.now() / 1000) - 3600;
  await store.insertRaw('llm_blocks', Buffer.from(s.blocks.map((b) => JSON.stringify({ ...b, last_seen: seen })).join('\n')));
  await store.insertRaw('llm_calls', Buffer.from(JSON.stringify({ request_id: id, started_at: new Date().toISOString(), user, request_body: s.skeleton, request_parts: s.parts, client_api: 'anthropic.messages', outcome: 'success' })));
  return { id, hashes: s.blocks.map((b) => b.hash) };
}

async function blocks(): Promise<Map<string, number>> {
  const rs = await store.client.query({ query: `SELECT hash, max(toUnixTimestamp(last_seen)) AS t FROM ${store.database}.llm_blocks GROUP BY hash`, format: 'JSONEachRow' });
  return new Map((await rs.json<{ hash: string; t: number }>()).map((r) => [r.hash, Number(r.t)]));
}

describe('body blocks: erasure, holds, retention', () => {
  it('erasure deletes only the blocks no remaining call uses; a held call keeps its blocks', async () => {
    const ana = await seed('ana');
    const bob = await seed('bob');
    const held = await seed('hal');
    const [sharedHash] = ana.hashes.filter((h) => bob.hashes.includes(h));
    expect(sharedHash).toBeDefined();
    await writeHold(store, { id: 'hold_1', version: 1, kind: 'user', value: 'hal', reason: 'case', active: true, created_at: new Date().toISOString(), updated_at: new Date().toISOString(), updated_by: 'test' });
    const before = await blocks();
    await markHolds(store);
    const after = await blocks();
    // Held calls' blocks were written again with a fresh last_seen; others were not.
    for (const h of held.hashes) expect(after.get(h)!).toBeGreaterThan(before.get(h)!);
    for (const h of ana.hashes.filter((x) => !held.hashes.includes(x))) expect(after.get(h)).toBe(before.get(h));

    const receipt = await eraseCalls(store, { user: 'ana', rows: false }, {});
    expect(receipt.rows).toBe(1);
    // The receipt counts the skeleton and the blocks deleted with it (all but the shared one).
    expect(receipt.bytes).toBeGreaterThan(Buffer.byteLength(bodyOf('ana')) - Buffer.byteLength(shared) - 100);
    const left = await blocks();
    for (const h of ana.hashes) expect(left.has(h)).toBe(h === sharedHash);
    expect((await getCall(store, bob.id))?.request_body).toBe(bodyOf('bob'));
    expect((await getCall(store, ana.id))?.request_body).toBe('');

    // The held call's blocks survive an erasure that names it.
    const r2 = await eraseCalls(store, { user: 'hal', rows: true }, {});
    expect(r2.held).toBe(1);
    expect((await getCall(store, held.id))?.request_body).toBe(bodyOf('hal'));
    // Erasing the last user of the shared block removes it.
    await eraseCalls(store, { user: 'bob', rows: true }, {});
    const end = await blocks();
    expect(end.has(sharedHash!)).toBe(true); // hal still uses it
    for (const h of bob.hashes.filter((x) => !held.hashes.includes(x))) expect(end.has(h)).toBe(false);
  });

  it('applies the blocks TTL and the request_parts TTL from the bodies retention', async () => {
    const changed = await applyRetention(store, RetentionConfig.parse({ bodies: '7d' }));
    expect(changed).toEqual(expect.arrayContaining(['llm_calls.request_parts', 'llm_blocks.rows']));
    const rs = await store.client.query({ query: `SELECT name, create_table_query AS q FROM system.tables WHERE database = {db:String} AND name IN ('llm_blocks', 'llm_calls')`, query_params: { db: store.database }, format: 'JSONEachRow' });
    const q = new Map((await rs.json<{ name: string; q: string }>()).map((r) => [r.name, r.q]));
    expect(q.get('llm_blocks')).toMatch(/TTL last_seen \+ toIntervalDay\(7\)/);
    expect(q.get('llm_calls')).toMatch(/`request_parts` Array\(Tuple\(at UInt32, hash String\)\) DEFAULT \[\] TTL if\(legal_hold/);
  });
});

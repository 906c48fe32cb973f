// End users' spend per key against the real engine (chDB, a store of its own).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { userSpendByKey } from './user-spend.ts';

let db: TempStore;

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-user-spend');
});

afterAll(async () => {
  await db?.close();
});

describe('userSpendByKey', () => {
  it('sums spend per key and end user since a start, biggest first, at most perKey a key', async () => {
    const [k1, k2] = [`k1_${randomUUID()}`, `k2_${randomUUID()}`];
    const call = (keyId: string, user: string, at: string, cost: number | null, outcome = 'success') =>
      JSON.stringify({ request_id: randomUUID(), started_at: at, key_id: keyId, user, outcome, cost_usd: cost });
    const rows = [
      call(k1, 'alice', '2026-11-02T00:00:00.000Z', 1.25),
      call(k1, 'alice', '2026-11-20T12:00:00.000Z', 0.75),
      call(k1, 'alice', '2026-11-20T12:00:01.000Z', 99, 'refused'),
      call(k1, 'bob', '2026-11-03T00:00:00.000Z', 0.5),
      call(k1, 'bob', '2026-11-03T00:00:00.000Z', null), // unknown price counts as 0
      call(k1, 'carol', '2026-11-04T00:00:00.000Z', 0.1),
      call(k1, 'carol', '2026-10-31T23:59:59.999Z', 1000), // before the start
      call(k1, '', '2026-11-05T00:00:00.000Z', 7), // names no end user
      call(k2, 'alice', '2026-11-05T00:00:00.000Z', 3),
    ];
    await db.store.insertRaw('llm_calls', Buffer.from(rows.join('\n') + '\n'));
    const since = Date.parse('2026-11-01T00:00:00Z');
    expect(await userSpendByKey(db.store, { keyIds: [k1, k2], since, perKey: 10 })).toEqual([
      { key_id: k1, user: 'alice', spent_usd: 2, calls: 2 },
      { key_id: k1, user: 'bob', spent_usd: 0.5, calls: 2 },
      { key_id: k1, user: 'carol', spent_usd: 0.1, calls: 1 },
      { key_id: k2, user: 'alice', spent_usd: 3, calls: 1 },
    ]);
    expect(await userSpendByKey(db.store, { keyIds: [k1, k2], since, perKey: 1 })).toEqual([
      { key_id: k1, user: 'alice', spent_usd: 2, calls: 2 },
      { key_id: k2, user: 'alice', spent_usd: 3, calls: 1 },
    ]);
    expect(await userSpendByKey(db.store, { keyIds: [], since, perKey: 1 })).toEqual([]);
  });
});

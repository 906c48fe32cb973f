// Audit trail retention with several ingest workers on one ClickHouse (the distributed path,
// through the chDB-backed HTTP fixture): workers sweeping at once expire the trail once — one
// holds the `audit-expire` lease — and the trail verifies afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_EXPIRE, AuditChain, expireAuditLeased, migrate, openStore, verifyAudit, type Store } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';

const DAY = 86_400_000;

describe('audit retention over ClickHouse HTTP, several workers', () => {
  const ch = new ClickHouseHttpFixture();
  const workers: Store[] = [];

  beforeAll(async () => {
    await ch.start();
    for (let i = 0; i < 3; i++) workers.push(await openStore({ clickhouse: { url: ch.url, database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, ch.dir));
    await migrate(workers[0]!);
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) await w.close();
    await ch.close();
  });

  async function count(where: string, params: Record<string, unknown> = {}): Promise<number> {
    const rs = await workers[0]!.client.query({ query: `SELECT count() AS n FROM gatelog.admin_audit WHERE ${where}`, query_params: params, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  }

  it('three workers sweeping at once: one expires, one anchor, the trail verifies', async () => {
    const old = new AuditChain(workers[1]!);
    for (let i = 0; i < 4; i++) await old.append({ action: 'calls.search', actor: 'ana@example.com', details: { text: `q${i}` }, at: new Date(Date.now() - 500 * DAY) });
    const recent = new AuditChain(workers[2]!);
    await recent.append({ action: 'calls.search', actor: 'ana@example.com', details: { text: 'now' } });

    const results = await Promise.all(workers.map((w, i) => expireAuditLeased(w, `ingest-${i}`, 60_000, { period: '400d' })));
    const ran = results.filter((r) => r !== undefined);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ rows: 5, chains: 1, refused: [] });
    expect(await count('chain_id = {c:String}', { c: old.id })).toBe(0);
    expect(await count('action = {a:String}', { a: AUDIT_EXPIRE })).toBe(1);
    const v = await verifyAudit(workers[0]!);
    expect(v.problem).toBeUndefined();

    // The holder keeps the job while it sweeps; the others keep standing by.
    const holder = results.findIndex((r) => r !== undefined);
    const again = await Promise.all(workers.map((w, i) => expireAuditLeased(w, `ingest-${i}`, 60_000, { period: '400d' })));
    expect(again.map((r) => r !== undefined)).toEqual(workers.map((_, i) => i === holder));
    expect(again[holder]).toMatchObject({ rows: 0 });
  });
});

// The audit trail's hash chain against the real engine (chDB): rows edited, deleted, reordered,
// duplicated or cut off directly in ClickHouse are named by verify; concurrent appends never
// fork a chain; several writers (chains) verify side by side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditChain, GENESIS_HASH, HEAD_LOG_MSG, auditHash, canonicalAudit, headsFromLog, listAudit, migrate, openStore, verifyAudit,
  type AuditRow, type Store,
} from '@gatelog/core';

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-audit-chain-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function chainOf(n: number): Promise<{ chain: AuditChain; rows: AuditRow[] }> {
  const chain = new AuditChain(store);
  const rows: AuditRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push(await chain.append({ action: 'call.view', actor: `p${i}@example.com`, role: 'analyst', targetType: 'call', target: `req-${i}`, details: { i, note: 'ünïcødé ✓' }, sourceIp: '10.0.0.1', userAgent: 'vitest' }));
  }
  return { chain, rows };
}

async function mutate(sql: string, params: Record<string, unknown>): Promise<void> {
  await store.client.command({ query: `${sql} SETTINGS mutations_sync = 2`, query_params: params });
}

async function problemOf(chainId: string, opts: Parameters<typeof verifyAudit>[1] = {}) {
  const r = await verifyAudit(store, opts);
  return { all: r, problem: r.chains.find((c) => c.chain_id === chainId)?.problem };
}

describe('audit chain', () => {
  it('hashes a documented canonical form and links every row to the one before it', async () => {
    const { chain, rows } = await chainOf(3);
    const stored = (await listAudit(store, { limit: 1000 })).filter((r) => r.chain_id === chain.id).sort((a, b) => a.seq - b.seq);
    // seq 1 opens the chain; the three actions follow.
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(stored[0]).toMatchObject({ action: 'audit.chain.open', prev_hash: GENESIS_HASH });
    for (let i = 1; i < stored.length; i++) expect(stored[i]!.prev_hash).toBe(stored[i - 1]!.row_hash);
    // What was stored is what was hashed (no drift through ClickHouse: times, unicode, JSON).
    expect(stored.slice(1)).toEqual(rows);
    for (const r of stored) expect(auditHash(r)).toBe(r.row_hash);
    expect(canonicalAudit(rows[0]!)).toBe(JSON.stringify([
      'gatelog-audit-v1', chain.id, 2, stored[0]!.row_hash, rows[0]!.id, rows[0]!.at, 'p0@example.com', 'analyst', 'call.view',
      'call', 'req-0', '10.0.0.1', 'vitest', JSON.stringify({ i: 0, note: 'ünïcødé ✓' }),
    ]));
    expect(rows[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const { problem } = await problemOf(chain.id);
    expect(problem).toBeUndefined();
  });

  it('concurrent appends from one writer never fork its chain', async () => {
    const chain = new AuditChain(store);
    await Promise.all(Array.from({ length: 40 }, (_, i) => chain.append({ action: 'calls.search', actor: 'a', details: { text: `q${i}` } })));
    expect(chain.head()?.seq).toBe(41);
    const { problem, all } = await problemOf(chain.id);
    expect(problem).toBeUndefined();
    expect(all.chains.find((c) => c.chain_id === chain.id)).toMatchObject({ first_seq: 1, last_seq: 41, rows: 41 });
  });

  it('names a row whose details were edited in ClickHouse', async () => {
    const { chain, rows } = await chainOf(5);
    const victim = rows[2]!;
    await mutate(`ALTER TABLE gatelog.admin_audit UPDATE details = '{"i":2,"note":"nothing to see"}' WHERE id = {id:UUID}`, { id: victim.id });
    const { problem, all } = await problemOf(chain.id);
    expect(all.ok).toBe(false);
    expect(problem).toMatchObject({ kind: 'changed', id: victim.id, seq: victim.seq });
    expect(problem?.message).toContain(victim.id);
  });

  it('names a row whose actor or time was edited', async () => {
    const { chain, rows } = await chainOf(4);
    await mutate(`ALTER TABLE gatelog.admin_audit UPDATE actor = 'someone-else' WHERE id = {id:UUID}`, { id: rows[1]!.id });
    expect((await problemOf(chain.id)).problem).toMatchObject({ kind: 'changed', id: rows[1]!.id });
    const c2 = await chainOf(4);
    // `at` is a sorting key column: ClickHouse cannot UPDATE it, so the row is rewritten.
    const v = c2.rows[3]!;
    await store.client.command({ query: `INSERT INTO gatelog.admin_audit SELECT * REPLACE (at - INTERVAL 1 DAY AS at) FROM gatelog.admin_audit WHERE id = {id:UUID}`, query_params: { id: v.id } });
    await mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE id = {id:UUID} AND at = {at:DateTime64(3, 'UTC')}`, { id: v.id, at: v.at.replace('T', ' ').replace('Z', '') });
    expect((await problemOf(c2.chain.id)).problem).toMatchObject({ kind: 'changed', id: c2.rows[3]!.id });
  });

  it('names the place of a deleted row (ALTER … DELETE and lightweight DELETE)', async () => {
    const { chain, rows } = await chainOf(6);
    await mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE id = {id:UUID}`, { id: rows[2]!.id });
    const { problem } = await problemOf(chain.id);
    expect(problem).toMatchObject({ kind: 'removed', seq: rows[2]!.seq, id: rows[3]!.id });
    expect(problem?.message).toContain(`row seq ${rows[2]!.seq}`);

    const c2 = await chainOf(3);
    await store.client.command({ query: `DELETE FROM gatelog.admin_audit WHERE id = {id:UUID}`, query_params: { id: c2.rows[0]!.id } });
    expect((await problemOf(c2.chain.id)).problem).toMatchObject({ kind: 'removed', seq: 2, id: c2.rows[1]!.id });
  });

  it('names a row moved to another place (seq swapped)', async () => {
    const { chain, rows } = await chainOf(6);
    const [a, b] = [rows[1]!, rows[2]!];
    await mutate(`ALTER TABLE gatelog.admin_audit UPDATE seq = if(seq = {a:UInt64}, {b:UInt64}, {a:UInt64}) WHERE chain_id = {c:String} AND seq IN ({a:UInt64}, {b:UInt64})`, { a: a.seq, b: b.seq, c: chain.id });
    const { problem } = await problemOf(chain.id);
    // Sorted by seq, b now comes first: it is named, with where it was written.
    expect(problem).toMatchObject({ kind: 'reordered', id: b.id, seq: a.seq });
    expect(problem?.message).toContain(`written as seq ${b.seq}`);
  });

  it('names a copied row and a chain that lost its first rows', async () => {
    const { chain, rows } = await chainOf(3);
    await store.client.command({ query: `INSERT INTO gatelog.admin_audit SELECT * FROM gatelog.admin_audit WHERE id = {id:UUID}`, query_params: { id: rows[1]!.id } });
    expect((await problemOf(chain.id)).problem).toMatchObject({ kind: 'duplicated', seq: rows[1]!.seq });

    const c2 = await chainOf(3);
    await mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE chain_id = {c:String} AND seq <= 2`, { c: c2.chain.id });
    expect((await problemOf(c2.chain.id)).problem).toMatchObject({ kind: 'removed', seq: 1, id: c2.rows[1]!.id });
    // Walking from a date on, the first row in range is the anchor: nothing before it is claimed.
    const from = await problemOf(c2.chain.id, { from: c2.rows[1]!.at });
    expect(from.problem).toBeUndefined();
  });

  it('a cut tail shows against the heads in the service log, a deleted chain against a later chain', async () => {
    const { chain, rows } = await chainOf(4);
    const lines: string[] = [];
    const heads = chain.logHeads({ info: (o: object, msg: string) => void lines.push(JSON.stringify({ ...o, msg })) } as never, 3_600_000);
    heads.stop();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: HEAD_LOG_MSG, audit_chain: chain.id, seq: 5, row_hash: rows[3]!.row_hash });
    await mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE chain_id = {c:String} AND seq >= 4`, { c: chain.id });
    // Without the log, a cut tail is a shorter valid chain; with it, the cut shows.
    expect((await problemOf(chain.id)).problem).toBeUndefined();
    const withLog = await problemOf(chain.id, { heads: headsFromLog(`noise\n${lines.join('\n')}\n{"msg":"other"}`) });
    expect(withLog.problem).toMatchObject({ kind: 'removed', seq: 4 });
    expect(withLog.problem?.message).toContain('service log');

    // A chain opened later witnesses this one's head: deleting the whole chain shows.
    const gone = await chainOf(2);
    const later = await chainOf(1);
    await mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE chain_id = {c:String}`, { c: gone.chain.id });
    const r = await problemOf(gone.chain.id);
    expect(r.problem).toMatchObject({ kind: 'removed' });
    expect(r.problem?.message).toContain(`witnessed`);
    expect(r.problem?.message).toContain(later.chain.id);
  });
});

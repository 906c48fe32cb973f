// Retention of the audit trail against the real engine (chDB): rows older than `retention.audit`
// are deleted and an `audit.expire` row anchors the cut, so `gatelog audit verify` still passes;
// what someone deletes or edits above a cut still shows; expiring rows that were altered are
// kept; a sink's undelivered rows are kept; the retention sweep runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_EXPIRE, AuditChain, HEAD_LOG_MSG, RetentionConfig, anchorOf, createLogger, expireAudit, headsFromLog,
  startRetention, verifyAudit, type Store,
} from '@gatelog/core';
import { saveSinkCursors } from '@gatelog/core/store/audit-stream-queries';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';
import { DAY, NOW, ago, auditTrail, recorder, times } from '../support/audit-trail.ts';

let db: TempStore;
let store: Store;
let trail: ReturnType<typeof auditTrail>;

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-audit-retention');
  store = db.store;
  trail = auditTrail(store);
});

afterAll(async () => {
  await db.close();
});

describe('audit trail retention', () => {
  let a: AuditChain;
  let b: AuditChain;
  let c: AuditChain;

  it('deletes rows older than the period, anchors the cut, and verify still passes', async () => {
    // a: open + 4 rows 500 days ago (seq 1..5), 2 rows 350 days ago (6..7), 2 yesterday (8..9).
    a = await trail.chainAt([...times(4, ago(500)), ...times(2, ago(350)), ...times(2, ago(1))]);
    // b: every row 450 days old: the whole chain goes. c opens after both and witnesses them.
    b = await trail.chainAt(times(3, ago(450)));
    c = await trail.chainAt([ago(1)]);
    const bHead = b.head()!;
    expect((await verifyAudit(store)).ok).toBe(true);

    const { lines, logger } = recorder();
    const r = await expireAudit(store, { period: '400d', now: NOW, logger });
    expect(r).toMatchObject({ rows: 9, chains: 2, refused: [] });
    expect((await trail.rowsOf(a.id)).map((x) => x.seq)).toEqual([6, 7, 8, 9]);
    expect(await trail.rowsOf(b.id)).toEqual([]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', obj: expect.objectContaining({ rows: 9, chains: 2 }) }));

    // The anchor: appended to the trail (its own chain), naming each chain's last expired row.
    const [anchor] = await trail.anchors();
    expect(anchor).toMatchObject({ actor: 'gatelog', role: 'system', action: AUDIT_EXPIRE });
    const cuts = anchorOf(anchor!)!.cuts;
    expect(cuts).toContainEqual({ chain_id: a.id, through_seq: 5, through_hash: (await trail.rowsOf(a.id))[0]!.prev_hash });
    expect(cuts).toContainEqual({ chain_id: b.id, through_seq: bHead.seq, through_hash: bHead.row_hash });

    const v = await verifyAudit(store);
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.chains.find((x) => x.chain_id === a.id)).toMatchObject({ first_seq: 6, last_seq: 9, expired_through: 5, problem: undefined });
    expect(v.expired_before).toBe(new Date(NOW - 400 * DAY).toISOString());
    // A service log that recorded b's head long ago: b is gone by design, not cut.
    const log = `${JSON.stringify({ level: 30, time: ago(450).getTime(), msg: HEAD_LOG_MSG, audit_chain: b.id, seq: bHead.seq, row_hash: bHead.row_hash })}\n`;
    expect((await verifyAudit(store, { heads: headsFromLog(log) })).ok).toBe(true);
  });

  it('a second sweep with nothing new to expire writes nothing', async () => {
    const r = await expireAudit(store, { period: '400d', now: NOW });
    expect(r).toMatchObject({ rows: 0, chains: 0 });
    expect(await trail.anchors()).toHaveLength(1);
  });

  it('a later expiry cuts further and carries the earlier cuts a kept row still needs', async () => {
    // 100 days on: a's rows of 350 days ago pass the period; b stays witnessed by c's open row.
    const r = await expireAudit(store, { period: '400d', now: NOW + 100 * DAY });
    expect(r).toMatchObject({ rows: 2, chains: 1, refused: [] });
    expect((await trail.rowsOf(a.id)).map((x) => x.seq)).toEqual([8, 9]);
    const all = await trail.anchors();
    expect(all).toHaveLength(2);
    const cuts = anchorOf(all[1]!)!.cuts;
    expect(cuts.find((x) => x.chain_id === a.id)?.through_seq).toBe(7);
    expect(cuts.find((x) => x.chain_id === b.id)?.through_seq).toBe(b.head()!.seq);
    // Verify needs only the newest anchor: with the first one gone (its own period passed), b is still accounted for.
    expect((await verifyAudit(store)).ok).toBe(true);
    expect((await trail.rowsOf(c.id)).length).toBe(2);
  });

  it('rows that do not verify are not expired: they are kept for verify to name, and the refusal is logged and recorded', async () => {
    const bad = await trail.chainAt(times(4, ago(600)));
    const good = await trail.chainAt(times(2, ago(600)));
    const victim = (await trail.rowsOf(bad.id))[2]!;
    await trail.mutate(`ALTER TABLE gatelog.admin_audit UPDATE details = '{"i":1,"note":"edited"}' WHERE id = {id:UUID}`, { id: victim.id });
    const { lines, logger } = recorder();
    const r = await expireAudit(store, { period: '400d', now: NOW + 100 * DAY, logger });
    expect(r.refused).toEqual([{ chain_id: bad.id, seq: 3, reason: 'its content no longer matches its hash' }]);
    expect(r.chains).toBe(1);
    expect(await trail.rowsOf(good.id)).toEqual([]);
    expect(await trail.rowsOf(bad.id)).toHaveLength(5);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', obj: expect.objectContaining({ audit_chain: bad.id, code: 'GATELOG_ERR_AUDIT_EXPIRY_REFUSED' }) }));
    const newest = (await trail.anchors()).at(-1)!;
    expect(JSON.parse(newest.details)).toMatchObject({ refused: [{ chain_id: bad.id, seq: 3 }] });
    const v = await verifyAudit(store);
    expect(v.chains.find((x) => x.chain_id === bad.id)?.problem).toMatchObject({ kind: 'changed', id: victim.id });
    expect(v.chains.find((x) => x.chain_id === good.id)?.problem).toBeUndefined();
    // Put the row back as it was, so the trail verifies again for what follows.
    await trail.mutate(`ALTER TABLE gatelog.admin_audit UPDATE details = {d:String} WHERE id = {id:UUID}`, { id: victim.id, d: victim.details });
    expect((await verifyAudit(store)).ok).toBe(true);
  });

  it('rows an audit sink has not accepted are kept until it has', async () => {
    const sent = await trail.chainAt(times(5, ago(700)));
    const unsent = await trail.chainAt(times(2, ago(700)));
    await saveSinkCursors(store, 'siem', new Map([[sent.id, 3]]));
    const r = await expireAudit(store, { period: '400d', now: NOW + 100 * DAY, sinks: ['siem'] });
    expect((await trail.rowsOf(sent.id)).map((x) => x.seq)).toEqual([4, 5, 6]);
    expect(await trail.rowsOf(unsent.id)).toHaveLength(3);
    expect(r.refused).toEqual([]);
    expect((await verifyAudit(store)).ok).toBe(true);
  });

  it('the retention sweep expires the trail by retention.audit; forever keeps it', async () => {
    const old = await trail.chainAt(times(2, ago(40)));
    const kept = await startRetention({ store, retention: RetentionConfig.parse({}), logger: createLogger('silent') });
    await kept.run();
    kept.stop();
    expect(await trail.rowsOf(old.id)).toHaveLength(3);
    const sweep = await startRetention({ store, retention: RetentionConfig.parse({ audit: '30d' }), logger: createLogger('silent') });
    await sweep.run();
    sweep.stop();
    expect(await trail.rowsOf(old.id)).toEqual([]);
    expect((await verifyAudit(store)).ok).toBe(true);
  });

  it('a writer whose whole chain expired goes on from its head after a failed insert, never from seq 1 again', async () => {
    let failNext = false;
    const flaky: Store = {
      ...store,
      insertRaw: (table, rows, settings) => {
        if (!failNext) return store.insertRaw(table, rows, settings);
        failNext = false;
        return Promise.reject(new Error('connection reset'));
      },
    };
    const idle = new AuditChain(flaky);
    for (let i = 0; i < 3; i++) await idle.append({ action: 'calls.search', actor: 'ana@example.com', details: { i }, at: ago(900) });
    await expireAudit(store, { period: '400d', now: NOW + 100 * DAY });
    expect(await trail.rowsOf(idle.id)).toEqual([]);
    failNext = true;
    await expect(idle.append({ action: 'calls.search', actor: 'ana@example.com' })).rejects.toThrow('connection reset');
    const next = await idle.append({ action: 'calls.search', actor: 'ana@example.com' });
    expect(next.seq).toBe(5);
    expect((await verifyAudit(store)).chains.find((x) => x.chain_id === idle.id)).toMatchObject({ first_seq: 5, expired_through: 4, problem: undefined });
  });

  it('what is deleted or edited above a cut, or in an anchor, still shows', async () => {
    // A row deleted just above a's cut: the kept rows no longer follow the anchor.
    const first = (await trail.rowsOf(a.id))[0]!;
    await trail.mutate(`ALTER TABLE gatelog.admin_audit DELETE WHERE id = {id:UUID}`, { id: first.id });
    let v = await verifyAudit(store);
    expect(v.ok).toBe(false);
    expect(v.chains.find((x) => x.chain_id === a.id)?.problem).toMatchObject({ kind: 'removed', seq: 1, message: expect.stringContaining(`rows 1..${first.seq}`) });
    // An anchor edited to excuse it fails its own hash and excuses nothing.
    const newest = (await trail.anchors()).at(-1)!;
    const forged = JSON.parse(newest.details) as { cuts: { chain_id: string; through_seq: number }[] };
    for (const cut of forged.cuts) if (cut.chain_id === a.id) cut.through_seq = first.seq;
    await trail.mutate(`ALTER TABLE gatelog.admin_audit UPDATE details = {d:String} WHERE id = {id:UUID}`, { id: newest.id, d: JSON.stringify(forged) });
    v = await verifyAudit(store);
    expect(v.chains.find((x) => x.chain_id === newest.chain_id)?.problem).toMatchObject({ kind: 'changed', id: newest.id });
    expect(v.chains.find((x) => x.chain_id === a.id)?.problem).toMatchObject({ kind: 'removed' });
    // And an altered newest anchor stops further expiry until the trail verifies again; the
    // retention sweep logs it and goes on with the rest of its work.
    await expect(expireAudit(store, { period: '400d', now: NOW + 300 * DAY })).rejects.toThrow(/was altered/);
    const sweep = await startRetention({ store, retention: RetentionConfig.parse({ audit: '30d' }), logger: createLogger('silent') });
    await expect(sweep.run()).resolves.toEqual({ records: 0, bytes: 0, files: 0 });
    sweep.stop();
  });
});

// Legal holds of the audit trail against its retention (chDB): a hold of a person keeps the rows
// they did and the rows about them (by user id, or by the address a failed sign-in typed), with
// every later row of the same chain, while the older rows of other chains expire; a hold of the
// whole trail expires nothing; once a hold is lifted the next expiry goes on. `gatelog audit
// verify` passes at every step.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_HOLD, anchorOf, expireAudit, verifyAudit, writeHold, type AuditChain, type AuditHold, type AuditInput, type Store } from '@gatelog/core';
import { createPerson } from '@gatelog/core/people';
import { MASTER_PRINCIPAL } from '@gatelog/core/roles';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';
import { NOW, ago, auditTrail, recorder, times } from '../support/audit-trail.ts';

const tag = randomUUID().slice(0, 8);
const ADA = `ada-${tag}@example.com`;
/** A person deleted before the holds: only the trail still ties her id to her address. */
const BO = `bo-${tag}@example.com`;
const BO_ID = `usr_bo${tag}`;
const ADMIN = `admin-${tag}@example.com`;

let db: TempStore;
let store: Store;
let trail: ReturnType<typeof auditTrail>;
let adaId = '';

beforeAll(async () => {
  db = await tempEmbeddedStore('gatelog-audit-retention-holds');
  store = db.store;
  trail = auditTrail(store);
  adaId = (await createPerson(store, { by: MASTER_PRINCIPAL, sourceIp: '127.0.0.1', userAgent: 'test', now: Date.now() }, { email: ADA, role: 'analyst' })).user.id;
});

afterAll(async () => {
  await db?.close();
});

type Row = Omit<AuditInput, 'at'>;
const someoneElse = (i: number): Row => ({ action: 'call.view', actor: `p${i}-${tag}@example.com`, role: 'analyst', targetType: 'call', target: `req-${i}` });
/** A chain of rows 500 days old, in this order (someone else's call view where null). */
const oldChain = (rows: (Row | null)[]): Promise<AuditChain> => trail.chainAt(times(rows.length, ago(500)), (i) => rows[i] ?? someoneElse(i));
const seqs = async (c: AuditChain): Promise<number[]> => (await trail.rowsOf(c.id)).map((r) => r.seq);

/** Rows written before chains existed, 500 days old: one by each actor. */
async function unchainedBy(actors: readonly string[]): Promise<void> {
  const at = ago(500).toISOString().replace('T', ' ').replace('Z', '');
  await store.client.insert({
    table: `${store.database}.admin_audit`,
    values: actors.map((actor) => ({ id: randomUUID(), at, actor, action: 'calls.search', target_type: 'llm_calls', target: '', details: '{}', source_ip: '' })),
    format: 'JSONEachRow',
  });
}

async function unchainedActors(): Promise<string[]> {
  const rs = await store.client.query({ query: `SELECT actor FROM ${store.database}.admin_audit WHERE chain_id = '' AND actor LIKE {t:String} ORDER BY actor`, query_params: { t: `%${tag}%` }, format: 'JSONEachRow' });
  return (await rs.json<{ actor: string }>()).map((r) => r.actor);
}

async function hold(value: string): Promise<AuditHold> {
  const at = new Date().toISOString();
  const h: AuditHold = { id: `hold_${randomUUID()}`, version: 1, kind: AUDIT_HOLD, value, reason: 'case 2026-17', active: true, created_at: at, updated_at: at, updated_by: 'master' };
  await writeHold(store, h);
  return h;
}

const lift = (h: AuditHold): Promise<void> => writeHold(store, { ...h, version: h.version + 1, active: false, updated_at: new Date().toISOString() });

async function verified(): Promise<void> {
  const v = await verifyAudit(store);
  expect(v.problem).toBeUndefined();
  expect(v.ok).toBe(true);
}

describe('legal holds of the audit trail', () => {
  let byAda: AuditChain;
  let aboutAda: AuditChain;
  let typedByAda: AuditChain;
  let boCreated: AuditChain;
  let aboutBo: AuditChain;
  let personHolds: AuditHold[] = [];

  it("a hold of a person keeps their rows and the rest of those rows' chains; other old rows expire", async () => {
    // Each chain: its open row (seq 1), someone else's row (2), then the row that names the person (3).
    byAda = await oldChain([null, { action: 'calls.search', actor: ADA, role: 'analyst', details: { text: 'q3 numbers' } }, null]);
    aboutAda = await oldChain([null, { action: 'person.update', actor: ADMIN, role: 'admin', targetType: 'person', target: adaId, details: { changes: { role: 'viewer' } } }, null]);
    typedByAda = await oldChain([null, { action: 'signin.failure', actor: ADA.toUpperCase(), targetType: 'account', target: ADA.toUpperCase(), details: { reason: 'bad_credentials' } }]);
    boCreated = await oldChain([{ action: 'person.create', actor: ADMIN, role: 'admin', targetType: 'person', target: BO_ID, details: { email: BO, role: 'viewer' } }]);
    aboutBo = await oldChain([null, { action: 'person.erase', actor: ADMIN, role: 'admin', targetType: 'person', target: BO_ID, details: { role: 'viewer' } }, null]);
    const unrelated = await oldChain([null, null]);
    await unchainedBy([ADA, `someone-${tag}@example.com`]);
    await verified();

    // The address as someone typed it: compared case-insensitively.
    personHolds = [await hold(ADA.toUpperCase()), await hold(BO)];
    const r = await expireAudit(store, { period: '400d', now: NOW });
    expect(await seqs(byAda)).toEqual([3, 4]);
    expect(await seqs(aboutAda)).toEqual([3, 4]);
    expect(await seqs(typedByAda)).toEqual([3]);
    expect(await seqs(boCreated)).toEqual([2]);
    expect(await seqs(aboutBo)).toEqual([3, 4]);
    expect(await seqs(unrelated)).toEqual([]);
    expect(await unchainedActors()).toEqual([ADA]);
    // Two rows of each chain that names a person but the one-row chain's open row, and the whole unrelated chain; one unchained row.
    expect(r).toMatchObject({ rows: 2 + 2 + 2 + 1 + 2 + 3 + 1, chains: 6, refused: [] });
    expect(JSON.parse(r.anchor!.details)).toMatchObject({ holds: personHolds.map((h) => h.id) });
    expect(anchorOf(r.anchor!)!.cuts).toContainEqual(expect.objectContaining({ chain_id: byAda.id, through_seq: 2 }));
    await verified();

    // Nothing more is due while the holds last.
    expect(await expireAudit(store, { period: '400d', now: NOW })).toMatchObject({ rows: 0, chains: 0 });
    expect(await seqs(byAda)).toEqual([3, 4]);
  });

  it('a hold of the whole trail expires nothing, and the log names it', async () => {
    const due = await oldChain([null]);
    const whole = await hold('*');
    const anchors = (await trail.anchors()).length;
    const { lines, logger } = recorder();
    const r = await expireAudit(store, { period: '400d', now: NOW, logger });
    expect(r).toEqual({ rows: 0, chains: 0, refused: [], suspended: whole.id });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', obj: { hold: whole.id }, msg: expect.stringContaining('suspends') }));
    expect(await seqs(due)).toEqual([1, 2]);
    expect(await trail.anchors()).toHaveLength(anchors);
    await verified();

    // Lifted: the expiry goes on, and the holds of people still keep theirs.
    await lift(whole);
    const next = await expireAudit(store, { period: '400d', now: NOW });
    expect(next).toMatchObject({ rows: 2, chains: 1 });
    expect(next.suspended).toBeUndefined();
    expect(await seqs(due)).toEqual([]);
    expect(await seqs(byAda)).toEqual([3, 4]);
    await verified();
  });

  it('once the holds of people are lifted, the next expiry deletes their rows', async () => {
    for (const h of personHolds) await lift(h);
    const r = await expireAudit(store, { period: '400d', now: NOW });
    expect(r).toMatchObject({ rows: 2 + 2 + 1 + 1 + 2 + 1, refused: [] });
    for (const c of [byAda, aboutAda, typedByAda, boCreated, aboutBo]) expect(await seqs(c)).toEqual([]);
    expect(await unchainedActors()).toEqual([]);
    expect(JSON.parse(r.anchor!.details)).not.toHaveProperty('holds');
    await verified();
  });
});

describe('a hold placed after a cut whose deletion failed', () => {
  /** The store, but every row deletion of the trail fails (a full disk, ClickHouse restarting). */
  const failingDeletes = (s: Store): Store => ({
    ...s,
    client: new Proxy(s.client, {
      get(target, prop, receiver) {
        if (prop === 'command') {
          return async (q: Parameters<Store['client']['command']>[0]) => {
            if (/ALTER TABLE \S+\.admin_audit DELETE/.test(q.query)) throw new Error('deletion failed: no space left on device');
            return target.command(q);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }),
  });

  it('keeps the held rows the failed run left behind, deletes the rest, and the held ones once lifted', async () => {
    const CAROL = `carol-${tag}@example.com`;
    // Open row (1), someone else's row (2), Carol's search (3), someone else's row (4): all due.
    const c = await oldChain([null, { action: 'calls.search', actor: CAROL, role: 'analyst', details: { text: 'salaries' } }, null]);
    await expect(expireAudit(failingDeletes(store), { period: '400d', now: NOW })).rejects.toThrow('no space left');
    // The anchor was written first, so the cut stands; the rows are still there.
    expect(anchorOf((await trail.anchors()).at(-1)!)!.cuts).toContainEqual(expect.objectContaining({ chain_id: c.id, through_seq: 4 }));
    expect(await seqs(c)).toEqual([1, 2, 3, 4]);

    // Carol's rows go under a legal hold before the next sweep.
    const h = await hold(CAROL);
    const anchors = (await trail.anchors()).length;
    await expireAudit(store, { period: '400d', now: NOW });
    expect(await seqs(c)).toEqual([3]);
    await verified();
    // Nothing left that may go: no deletion, no anchor, however often it sweeps.
    expect(await expireAudit(store, { period: '400d', now: NOW })).toMatchObject({ rows: 0, chains: 0 });
    expect(await trail.anchors()).toHaveLength(anchors);
    expect(await seqs(c)).toEqual([3]);

    await lift(h);
    await expireAudit(store, { period: '400d', now: NOW });
    expect(await seqs(c)).toEqual([]);
    await verified();
  });
});

// Batch files at the provider obey gatelog's retention and erasure (proxy/src/batches/purge.ts):
// buildProxy on 127.0.0.1:0 with the real chDB store, the real `openai` SDK as the client, and
// the fake OpenAI Files/Batches upstream recording every DELETE. Erasure by key deletes that
// key's files upstream (and, once its batch ends, the files of a batch that was running), with
// the counts in the receipt and its audit row; a key or team under a legal hold keeps its files;
// erasure by user deletes none and says why. The retention sweep deletes the files (inputs and
// results) of a team whose `retention.calls` has passed, never another team's nor a running
// batch's, audited and counted; a deletion the upstream answers 500 is tried again at the next
// sweep, a 404 counts as gone, and a file whose provider cannot be reached (or is no longer
// configured) stays on gatelog's list. The governance clock is moved forward to let periods pass.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import OpenAI, { toFile } from 'openai';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, parseConfig } from '@gatelog/core';
import { batchObject, batchRecorded, saveBatchObjects } from '@gatelog/core/store/batch-objects';
import { tempEmbeddedStore, type TempStore } from '../support/embedded-store.ts';
import { newVirtualKey } from '../support/admin-setup.ts';
import { startFakeBatches, type FakeBatches } from '../support/fake-openai-batches.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const SHORT = `short-${tag}`;
const LONG = `long-${tag}`;
const ERA = `era-${tag}`;
const HELD = `held-${tag}`;
const HOUR = 3_600_000;

let up: FakeBatches;
let db: TempStore;
let app: FastifyInstance;
let url: string;
const registry = new Registry();
/** How far the governance clock (files' created_at, retention's now) is ahead of the wall clock. */
let skew = 0;

const client = (apiKey: string): OpenAI => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 });
const line = (id: string): string => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'cheap', messages: [{ role: 'user', content: `prompt ${id}` }] } });
const upload = async (key: string, n = 1): Promise<string> =>
  (await client(key).files.create({ file: await toFile(Buffer.from(`${Array.from({ length: n }, (_, i) => line(`l${i}`)).join('\n')}\n`), 'in.jsonl'), purpose: 'batch' })).id;
const startBatch = async (key: string, fileId: string): Promise<string> =>
  (await client(key).batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).id;

/** Retrieves the batch until it completes and its results are recorded; its output file. */
async function finish(key: string, batchId: string): Promise<string> {
  let b = await client(key).batches.retrieve(batchId);
  for (let i = 0; i < 5 && b.status !== 'completed'; i++) b = await client(key).batches.retrieve(batchId);
  expect(b.status).toBe('completed');
  for (let i = 0; i < 100 && !(await batchRecorded(db.store, batchId)); i++) await new Promise((r) => setTimeout(r, 100));
  expect(await batchRecorded(db.store, batchId)).toBe(true);
  return b.output_file_id!;
}

/** Waits until every id in `ids` was asked to be deleted upstream. */
async function deletedUpstream(ids: readonly string[], ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ids.every((id) => up.deletes.includes(id)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  expect(up.deletes).toEqual(expect.arrayContaining([...ids]));
}

const rowStatus = async (id: string): Promise<string | undefined> => (await batchObject(db.store, 'file', id))?.status;

async function erase(body: Record<string, unknown>): Promise<{ upstream_files: Record<string, unknown>; rows: number }> {
  const r = await fetch(`${url}/admin/erase`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as { upstream_files: Record<string, unknown>; rows: number };
}

async function metric(reason: string, name = 'gatelog_upstream_files_deleted_total'): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels['reason'] === reason);
  return m?.value ?? 0;
}

beforeAll(async () => {
  up = await startFakeBatches();
  db = await tempEmbeddedStore('gatelog-batches-purge');
  const config = parseConfig({
    providers: {
      oai: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-test-purge-00000000000000000' },
      // Nothing listens there: a deletion fails on the network.
      down: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-test-purge-00000000000000001' },
    },
    models: [{ name: 'cheap', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] }],
    // The purge sweeps every second; batches move only when the test retrieves them.
    retention: { sweep_ms: 1000, teams: { [SHORT]: { calls: '1h' } } },
    batches: { poll_ms: 3_600_000 },
  }, 'test', {});
  app = await buildProxy({ config, publish: () => undefined, logger: createLogger('silent'), registry, masterKey: MASTER, store: db.store, now: () => Date.now() + skew });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await db?.close();
  await up?.close();
});

describe('erasure reaches the files upstream', () => {
  it("erasure by key deletes that key's files only, counts them in the receipt and its audit row, and the running batch's once it ends", async () => {
    const k1 = await newVirtualKey(url, MASTER, `k1-${tag}`, ERA);
    const k2 = await newVirtualKey(url, MASTER, `k2-${tag}`, ERA);
    const mine = [await upload(k1), await upload(k1)];
    const doneBatch = await startBatch(k1, mine[1]!);
    const output = await finish(k1, doneBatch);
    const runningInput = await upload(k1);
    const running = await startBatch(k1, runningInput);
    const other = await upload(k2);
    const keyId = (await batchObject(db.store, 'file', mine[0]!))!.key_id;
    const before = await metric('erasure');

    const receipt = await erase({ key: keyId });
    expect(receipt.upstream_files).toEqual({ deleted: 3, failed: 0, held: 0, waiting: 1 });
    expect(up.deletes).toEqual(expect.arrayContaining([...mine, output]));
    expect(up.deletes).not.toContain(other);
    expect(up.deletes).not.toContain(runningInput);
    for (const id of [...mine, output]) expect(await rowStatus(id)).toBe('deleted');
    expect(await rowStatus(other)).not.toBe('deleted');
    expect(await client(k2).files.retrieve(other)).toMatchObject({ id: other });
    expect(await metric('erasure')).toBe(before + 3);
    const audit = await listAudit(db.store, { limit: 1000 });
    const erased = audit.find((a) => a.action === 'calls.erase' && a.target.includes(keyId))!;
    expect(JSON.parse(erased.details)).toMatchObject({ receipt: { upstream_files: { deleted: 3, failed: 0 } } });
    const purged = audit.filter((a) => a.action === 'file.purge' && a.target === 'erasure').flatMap((a) => (JSON.parse(a.details) as { deleted: { id: string }[] }).deleted.map((f) => f.id));
    expect(purged).toEqual(expect.arrayContaining([...mine, output]));

    // The running batch's input and results go once it has ended and been recorded: the sweep
    // applies the recorded erasure again.
    const runningOutput = await finish(k1, running);
    await deletedUpstream([runningInput, runningOutput]);
    expect(up.deletes).not.toContain(other);
  }, 60_000);

  it('a legal hold of the team keeps its files; erasure by user deletes none and says why', async () => {
    const k = await newVirtualKey(url, MASTER, `kh-${tag}`, HELD);
    const held = await upload(k);
    const hold = await fetch(`${url}/admin/holds`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'team', value: HELD, reason: 'case 7' }) });
    expect(hold.status).toBe(201);
    const tomorrow = new Date(Date.now() + 24 * HOUR).toISOString();
    expect((await erase({ before: tomorrow, teams: [HELD] })).upstream_files).toEqual({ deleted: 0, failed: 0, held: 1, waiting: 0 });
    expect(up.deletes).not.toContain(held);

    const asked = up.deletes.length;
    const byUser = await erase({ user: `someone-${tag}` });
    expect(byUser.upstream_files).toMatchObject({ deleted: 0, failed: 0 });
    expect(String(byUser.upstream_files['skipped_reason'])).toMatch(/user or trace/);
    expect(up.deletes.length).toBe(asked);
    // Sweeps later, the held file is still there.
    await new Promise((r) => setTimeout(r, 2500));
    expect(up.deletes).not.toContain(held);
    expect(await rowStatus(held)).not.toBe('deleted');
  }, 60_000);
});

describe('retention reaches the files upstream', () => {
  it("deletes the expired team's inputs and results, not another team's nor a running batch's; audited and counted", async () => {
    const s = await newVirtualKey(url, MASTER, `s-${tag}`, SHORT);
    const l = await newVirtualKey(url, MASTER, `l-${tag}`, LONG);
    const plain = await upload(s);
    const batchInput = await upload(s);
    const output = await finish(s, await startBatch(s, batchInput));
    const runningInput = await upload(s);
    const running = await startBatch(s, runningInput);
    const longs = await upload(l);
    const before = await metric('retention');
    await new Promise((r) => setTimeout(r, 2500));
    expect(up.deletes).not.toContain(plain);

    // Two hours on: SHORT's one-hour period has passed; LONG keeps the default 400 days.
    skew += 2 * HOUR;
    await deletedUpstream([plain, batchInput, output]);
    await new Promise((r) => setTimeout(r, 2500));
    expect(up.deletes).not.toContain(runningInput);
    expect(up.deletes).not.toContain(longs);
    for (const id of [plain, batchInput, output]) expect(await rowStatus(id)).toBe('deleted');
    expect(await rowStatus(runningInput)).not.toBe('deleted');
    expect((await client(s).files.list()).data.map((f) => f.id)).toEqual([runningInput]);
    expect(await metric('retention')).toBe(before + 3);
    const audit = await listAudit(db.store, { limit: 1000 });
    const purged = audit.filter((a) => a.action === 'file.purge' && a.target === 'retention').flatMap((a) => (JSON.parse(a.details) as { deleted: { id: string; team: string }[] }).deleted);
    expect(purged.filter((f) => f.team === SHORT).map((f) => f.id).sort()).toEqual([plain, batchInput, output].sort());

    // Once the running batch has ended and been recorded, its files go too.
    const runningOutput = await finish(s, running);
    await deletedUpstream([runningInput, runningOutput]);
    expect(up.deletes).not.toContain(longs);
  }, 60_000);

  it('a deletion the upstream answers 500 is tried again at the next sweep; one it no longer has (404) counts as gone; an unreachable provider is never forgotten', async () => {
    const s = await newVirtualKey(url, MASTER, `s2-${tag}`, SHORT);
    const flaky = await upload(s);
    const vanished = await upload(s);
    up.files.delete(vanished);
    up.failDelete(flaky, 500, 1);
    // Files on a provider that cannot be reached, and on one no longer configured.
    const template = (await batchObject(db.store, 'file', flaky))!;
    const unreachable = { ...template, id: `file-down-${tag}`, provider: 'down' };
    const unknown = { ...template, id: `file-unknown-${tag}`, provider: `removed-${tag}` };
    await saveBatchObjects(db.store, [unreachable, unknown]);
    const failedBefore = await metric('retention', 'gatelog_upstream_file_delete_failures_total');
    skew += 2 * HOUR;
    await deletedUpstream([flaky, vanished]);
    // Refused once, then deleted by a later sweep.
    for (let i = 0; i < 150 && up.deletes.filter((id) => id === flaky).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(up.deletes.filter((id) => id === flaky).length).toBe(2);
    for (let i = 0; i < 50 && (await rowStatus(flaky)) !== 'deleted'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await rowStatus(flaky)).toBe('deleted');
    expect(up.files.has(flaky)).toBe(false);
    expect(await rowStatus(vanished)).toBe('deleted');
    expect(up.deletes.filter((id) => id === vanished)).toHaveLength(1);
    const failures = (await listAudit(db.store, { limit: 1000 })).filter((a) => a.action === 'file.purge').flatMap((a) => (JSON.parse(a.details) as { failed: { id: string; error: string }[] }).failed);
    expect(failures).toContainEqual(expect.objectContaining({ id: flaky, error: 'http_500' }));
    expect(failures).toContainEqual(expect.objectContaining({ id: unreachable.id, error: 'upstream_unavailable' }));
    expect(failures).toContainEqual(expect.objectContaining({ id: unknown.id, error: 'provider_unavailable' }));
    // flaky once; the other two at every sweep since.
    expect(await metric('retention', 'gatelog_upstream_file_delete_failures_total')).toBeGreaterThanOrEqual(failedBefore + 1 + 2 * 2);
    // Still on gatelog's list, written again at each failure (its TTL starts over).
    expect(await rowStatus(unreachable.id)).toBe('processed');
    const versions = await db.store.client.query({ query: 'SELECT count() AS n FROM gatelog.batch_objects WHERE id = {id:String}', query_params: { id: unknown.id }, format: 'JSONEachRow' });
    expect(Number((await versions.json<{ n: string }>())[0]!.n)).toBeGreaterThan(1);
  }, 60_000);
});

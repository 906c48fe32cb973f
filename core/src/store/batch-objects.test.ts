import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { batchObject, batchRecorded, batchesToPoll, listBatchObjects, markBatchRecorded, saveBatchObjects, type BatchObjectRow } from './batch-objects.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-batch-objects-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const row = (id: string, kind: 'file' | 'batch', team: string, keyId: string, at: number, status = 'processed'): BatchObjectRow => ({
  id, kind, provider: 'oai', team, key_id: keyId, key_name: `name-${keyId}`, created_at: new Date(Date.UTC(2026, 11, 1, 0, 0, at)).toISOString(),
  purpose: kind === 'file' ? 'batch' : '', input_file_id: '', status, line_models: '', object: JSON.stringify({ id, status }),
});

describe('batch_objects', () => {
  it('keeps the newest version of each object and lists a team its own, newest first, paged by id', async () => {
    await saveBatchObjects(store, [row('file-a1', 'file', 'a', 'k1', 1), row('file-a2', 'file', 'a', 'k2', 2), row('file-a3', 'file', 'a', 'k1', 3), row('file-b1', 'file', 'b', 'k3', 4), row('file-n1', 'file', '', 'k4', 5), row('file-n2', 'file', '', 'k5', 6)]);
    await saveBatchObjects(store, [{ ...row('file-a2', 'file', 'a', 'k2', 2), status: 'deleted' }]);
    expect((await batchObject(store, 'file', 'file-a2'))?.status).toBe('deleted');
    expect(await batchObject(store, 'batch', 'file-a1')).toBeUndefined();
    const ids = async (q: Parameters<typeof listBatchObjects>[1]): Promise<string[]> => (await listBatchObjects(store, q)).map((r) => r.id);
    expect(await ids({ kind: 'file', owner: { team: 'a' }, limit: 10 })).toEqual(['file-a3', 'file-a1']);
    expect(await ids({ kind: 'file', owner: { team: 'a' }, limit: 1 })).toEqual(['file-a3', 'file-a1']);
    expect(await ids({ kind: 'file', owner: { team: 'a' }, after: 'file-a3', limit: 10 })).toEqual(['file-a1']);
    // A key without a team sees its own objects only.
    expect(await ids({ kind: 'file', owner: { keyId: 'k4' }, limit: 10 })).toEqual(['file-n1']);
    expect(await ids({ kind: 'file', owner: null, limit: 10 })).toEqual(['file-n2', 'file-n1', 'file-b1', 'file-a3', 'file-a1']);
  });

  it('polls batches in flight and completed ones until their results are recorded', async () => {
    await saveBatchObjects(store, [row('batch_1', 'batch', 'a', 'k1', 10, 'in_progress'), row('batch_2', 'batch', 'a', 'k1', 11, 'completed'), row('batch_3', 'batch', 'a', 'k1', 12, 'failed'), row('batch_4', 'batch', 'a', 'k1', 13, 'cancelled')]);
    expect((await batchesToPoll(store, 10)).map((r) => r.id)).toEqual(['batch_1', 'batch_2', 'batch_4']);
    await markBatchRecorded(store, 'batch_4', 1);
    expect(await batchRecorded(store, 'batch_2')).toBe(false);
    await markBatchRecorded(store, 'batch_2', 3);
    expect(await batchRecorded(store, 'batch_2')).toBe(true);
    // A later version of the batch row does not undo the marker.
    await saveBatchObjects(store, [row('batch_2', 'batch', 'a', 'k1', 11, 'completed')]);
    expect((await batchesToPoll(store, 10)).map((r) => r.id)).toEqual(['batch_1']);
    expect(await batchRecorded(store, 'batch_2')).toBe(true);
  });
});

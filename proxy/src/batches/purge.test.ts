// The upstream purge turned off (`batches.purge_upstream: false`, for an upstream account with a
// retention of its own): nothing is deleted at the provider, and an erasure's receipt says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger, parseConfig, RetentionConfig } from '@gatelog/core';
import { batchObject, saveBatchObjects } from '@gatelog/core/store/batch-objects';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { createUpstreamFileMetrics } from '../metrics.ts';
import type { FilesApi, FilesRequest, FilesResponse, FilesStream } from '../providers/types.ts';
import { createUpstreamPurge, PURGE_OFF, type UpstreamPurge } from './purge.ts';

class RecordingFiles implements FilesApi {
  readonly sent: FilesRequest[] = [];
  send(r: FilesRequest): Promise<FilesResponse> {
    this.sent.push(r);
    return Promise.resolve({ status: 200, contentType: 'application/json', body: Buffer.from('{"deleted":true}') });
  }
  stream(): Promise<FilesStream> {
    return Promise.reject(new Error('not used'));
  }
}

let t: TempStore;
beforeAll(async () => {
  t = await tempEmbeddedStore('purge-off');
});
afterAll(async () => {
  await t?.close();
});

describe('batches.purge_upstream', () => {
  it('is on by default', () => {
    expect(parseConfig({}, 'test', {}).batches.purge_upstream).toBe(true);
  });

  it('off: a due file stays at the provider; an erasure by key says why none was deleted', async () => {
    const files = new RecordingFiles();
    const now = Date.now();
    await saveBatchObjects(t.store, [{
      id: 'file-due', kind: 'file', provider: 'oai', team: '', key_id: 'k1', key_name: '', created_at: new Date(now - 2 * 86_400_000).toISOString(),
      purpose: 'batch', input_file_id: '', status: 'processed', line_models: '', object: '{}',
    }]);
    const purgeWith = (enabled: boolean): UpstreamPurge => createUpstreamPurge({
      store: t.store, providers: new Map([['oai', { files }]]), retention: RetentionConfig.parse({ calls: '1d' }), enabled,
      now: Date.now, logger: createLogger('silent'), metrics: createUpstreamFileMetrics(new Registry()),
    });
    const purge = purgeWith(false);
    expect(await purge.sweep()).toEqual({ deleted: 0, failed: 0 });
    expect(await purge.erase({ key: 'k1', rows: false }, now)).toEqual({ deleted: 0, failed: 0, held: 0, waiting: 0, skipped_reason: PURGE_OFF });
    expect(files.sent).toEqual([]);
    expect((await batchObject(t.store, 'file', 'file-due'))?.status).toBe('processed');

    // On, the same file goes.
    const on = purgeWith(true);
    expect(await on.sweep()).toEqual({ deleted: 1, failed: 0 });
    expect(files.sent).toEqual([{ method: 'DELETE', path: '/files/file-due' }]);
    expect((await batchObject(t.store, 'file', 'file-due'))?.status).toBe('deleted');
  });
});

// The TTL of the Files and Batches API's ownership rows follows the calls' period (per team),
// counted from when the object was last seen, never shorter than two days; a file's row a week
// longer, so the upstream deletion at the end of the period still finds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { applyRetention, enforceRetentionNow, RetentionConfig, ttlStatements } from './retention.ts';

const batchTtl = (r: unknown): { ttl: string; sql: string[] } => ttlStatements('gatelog', RetentionConfig.parse(r)).find((t) => t.target === 'batch_objects.rows')!;

describe('batch_objects retention', () => {
  it('follows the calls period, by team, from updated_at', () => {
    const t = batchTtl({ calls: '90d', teams: { clinical: { calls: '30d' } } });
    expect(t.sql).toEqual([`ALTER TABLE gatelog.batch_objects MODIFY TTL multiIf(team = unhex('636c696e6963616c'), toDateTime(updated_at) + toIntervalDay(30), toDateTime(updated_at) + toIntervalDay(90)) + toIntervalDay(kind = 'batch_recorded') + toIntervalDay(7 * (kind = 'file'))`]);
  });

  it("keeps a running batch's owner for two days at least; forever removes the TTL", () => {
    expect(batchTtl({ calls: '12h' }).sql).toEqual(["ALTER TABLE gatelog.batch_objects MODIFY TTL toDateTime(updated_at) + toIntervalDay(2) + toIntervalDay(kind = 'batch_recorded') + toIntervalDay(7 * (kind = 'file'))"]);
    expect(batchTtl({ calls: '3d' }).sql).toEqual(["ALTER TABLE gatelog.batch_objects MODIFY TTL toDateTime(updated_at) + toIntervalDay(3) + toIntervalDay(kind = 'batch_recorded') + toIntervalDay(7 * (kind = 'file'))"]);
    expect(batchTtl({ calls: 'forever' }).sql).toEqual(['ALTER TABLE gatelog.batch_objects REMOVE TTL']);
  });
});

describe('batch_objects retention on a real store', () => {
  let t: TempStore;
  beforeAll(async () => {
    t = await tempEmbeddedStore('batch-retention');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a row past its period goes; the recorded marker of the same age stays a day longer, a file\'s row a week', async () => {
    const ago = (h: number): string => new Date(Date.now() - h * 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
    const row = (id: string, kind: string, hoursAgo: number): string =>
      JSON.stringify({ id, kind, provider: 'oai', team: '', key_id: '', key_name: '', created_at: ago(hoursAgo), purpose: '', input_file_id: '', status: 'completed', line_models: '', object: '{}', updated_at: ago(hoursAgo) });
    const rows = [row('batch_old', 'batch', 60), row('batch_old', 'batch_recorded', 60), row('batch_new', 'batch', 1), row('batch_ancient', 'batch_recorded', 80),
      row('file-due', 'file', 60), row('file-forgotten', 'file', 24 * 10)];
    await t.store.insertRaw('batch_objects', Buffer.from(`${rows.join('\n')}\n`));
    expect(await applyRetention(t.store, RetentionConfig.parse({ calls: '1d' }))).toContain('batch_objects.rows');
    await enforceRetentionNow(t.store);
    const rs = await t.store.client.query({ query: 'SELECT id, kind FROM gatelog.batch_objects ORDER BY id, kind', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ id: 'batch_new', kind: 'batch' }, { id: 'batch_old', kind: 'batch_recorded' }, { id: 'file-due', kind: 'file' }]);
  });
});

// The TTL of the Files and Batches API's ownership rows follows the calls' period (per team),
// counted from when the object was last seen, never shorter than two days.
import { describe, expect, it } from 'vitest';
import { RetentionConfig, ttlStatements } from './retention.ts';

const batchTtl = (r: unknown): { ttl: string; sql: string[] } => ttlStatements('gatelog', RetentionConfig.parse(r)).find((t) => t.target === 'batch_objects.rows')!;

describe('batch_objects retention', () => {
  it('follows the calls period, by team, from updated_at', () => {
    const t = batchTtl({ calls: '90d', teams: { clinical: { calls: '30d' } } });
    expect(t.sql).toEqual([`ALTER TABLE gatelog.batch_objects MODIFY TTL multiIf(team = unhex('636c696e6963616c'), toDateTime(updated_at) + toIntervalDay(30), toDateTime(updated_at) + toIntervalDay(90))`]);
  });

  it("keeps a running batch's owner for two days at least; forever removes the TTL", () => {
    expect(batchTtl({ calls: '12h' }).sql).toEqual(['ALTER TABLE gatelog.batch_objects MODIFY TTL toDateTime(updated_at) + toIntervalDay(2)']);
    expect(batchTtl({ calls: '3d' }).sql).toEqual(['ALTER TABLE gatelog.batch_objects MODIFY TTL toDateTime(updated_at) + toIntervalDay(3)']);
    expect(batchTtl({ calls: 'forever' }).sql).toEqual(['ALTER TABLE gatelog.batch_objects REMOVE TTL']);
  });
});

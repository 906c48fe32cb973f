// The sink lease on both homes, real engines: ClickHouse (chDB) and a real redis-server. One
// holder at a time; the holder keeps it by claiming; a silent holder's sink goes to the next
// claimant after the lease's length (and on Redis the old holder cannot take it back); the
// status API's `holder` names who holds it, without claiming.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisLease, storeLease, type SinkLease } from './lease.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { startRedis, type RedisServer } from '../../../test/support/redis-server.ts';

let temp: TempStore;
let redis: RedisServer;
const leases: Record<string, SinkLease> = {};

beforeAll(async () => {
  [temp, redis] = await Promise.all([tempEmbeddedStore('gatelog-sink-lease'), startRedis()]);
  leases['clickhouse'] = storeLease(temp.store);
  leases['redis'] = redisLease(redis.url);
}, 60_000);
afterAll(async () => {
  await leases['redis']?.close();
  await Promise.all([temp?.close(), redis?.stop()]);
});

const MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(['clickhouse', 'redis'])('sink lease on %s', (home) => {
  it('one holder while it claims; a silent holder\'s sink goes to the next claimant', async () => {
    const lease = leases[home]!;
    const sink = `s-${randomUUID()}`;
    expect(await lease.holder(sink, MS)).toBeNull();
    expect(await lease.claim(sink, 'a', MS)).toBe(true);
    expect(await lease.claim(sink, 'b', MS)).toBe(false);
    for (let i = 0; i < 3; i++) {
      await sleep(MS / 4);
      expect(await lease.claim(sink, 'a', MS)).toBe(true);
      expect(await lease.claim(sink, 'b', MS)).toBe(false);
    }
    expect(await lease.holder(sink, MS)).toBe('a');
    await sleep(MS * 1.3);
    expect(await lease.holder(sink, MS)).toBeNull();
    expect(await lease.claim(sink, 'b', MS)).toBe(true);
    expect(await lease.holder(sink, MS)).toBe('b');
    if (home === 'redis') expect(await lease.claim(sink, 'a', MS)).toBe(false);
    // Another sink's lease is its own.
    expect(await lease.claim(`${sink}-2`, 'a', MS)).toBe(true);
  }, 30_000);
});

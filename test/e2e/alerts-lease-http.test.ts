// The alert evaluation lease through a ClickHouse HTTP store (the distributed path, against the
// chDB-backed HTTP fixture): proxies claiming the same slots concurrently get one winner each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStore, type Store } from '@gatelog/core';
import { claimAlertSlot } from '@gatelog/core/store/alert-queries';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';

describe('alert lease over ClickHouse HTTP', () => {
  const ch = new ClickHouseHttpFixture();
  let http: Store;

  beforeAll(async () => {
    await ch.start();
    http = await openStore({ clickhouse: { url: ch.url, database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, ch.dir);
    await migrate(http);
  }, 60_000);

  afterAll(async () => {
    await http?.close();
    await ch.close();
  });

  it('three proxies claiming each of ten slots: one winner per slot', async () => {
    const winners: string[] = [];
    for (let slot = 1; slot <= 10; slot++) {
      const won = await Promise.all(['p1', 'p2', 'p3'].map(async (h) => ((await claimAlertSlot(http, slot, h)) ? h : null)));
      expect(won.filter(Boolean)).toHaveLength(1);
      winners.push(won.find(Boolean)!);
    }
    expect(winners).toHaveLength(10);
  });
});

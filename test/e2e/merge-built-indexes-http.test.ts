// The body word indexes are built by merges, not by inserts, over the HTTP store path (the
// server is asked once whether it knows the setting), against the chDB-backed HTTP fixture.
import { openStore } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { mergeBuiltIndexSuite } from '../support/merge-built-suite.ts';

const ch = new ClickHouseHttpFixture();
mergeBuiltIndexSuite('ClickHouse over HTTP', async () => {
  await ch.start();
  return openStore({ clickhouse: { url: ch.url, database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, ch.dir);
}, () => ch.close());

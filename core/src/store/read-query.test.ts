// A page's read stops at its time limit with an error a person can act on, and the limit
// binds that query only: the next query on the same chDB connection runs unlimited.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { QueryTimeoutError, readQuery } from './read-query.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-readq-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('readQuery', () => {
  it('stops a read that runs past its limit with QueryTimeoutError', async () => {
    const t0 = performance.now();
    const slow = readQuery(store, { query: 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1' }, { timeoutS: 1 });
    await expect(slow).rejects.toThrow(QueryTimeoutError);
    await expect(slow).rejects.toThrow(/longer than 1 s.*narrow the time range/);
    expect(performance.now() - t0).toBeLessThan(4_500);
  });

  it('answers a quick read with its rows, bound parameters included, and leaves the connection unlimited', async () => {
    const rs = await readQuery(store, { query: 'SELECT {n:UInt32} + 1 AS n', query_params: { n: 41 } }, { timeoutS: 1 });
    expect(await rs.json()).toEqual([{ n: 42 }]);
    const setting = await store.client.query({ query: "SELECT value FROM system.settings WHERE name = 'max_execution_time'", format: 'JSONEachRow' });
    expect(await setting.json()).toEqual([{ value: '0' }]);
  });

  it('a long page read holds neither key lookups nor other pages', async () => {
    const slow = readQuery(store, { query: 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1' }, { timeoutS: 4 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    for (const kind of ['keys', 'pages'] as const) {
      const t0 = performance.now();
      const rs = await readQuery(store, { query: 'SELECT {id:String} AS id', query_params: { id: `k'1` } }, { kind });
      expect(await rs.json()).toEqual([{ id: `k'1` }]);
      expect(performance.now() - t0, kind).toBeLessThan(1_500);
    }
    expect(await slow).toBeInstanceOf(QueryTimeoutError);
  });
});

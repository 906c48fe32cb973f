// Migrations against the real engine (chDB): the statements migrate() joins build the same
// schema as every landed statement run one by one, and a migration cut short runs again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { joinAlters, listMigrations, migrate } from './migrate.ts';

describe('joinAlters', () => {
  it('joins consecutive column and index changes of one table, and nothing else', () => {
    const create = 'CREATE TABLE {db}.a (x UInt8) ENGINE = MergeTree ORDER BY x';
    const changes = [
      'ALTER TABLE {db}.a ADD COLUMN IF NOT EXISTS y Map(LowCardinality(String), UInt32)',
      'ALTER TABLE {db}.a ADD INDEX IF NOT EXISTS i y TYPE minmax GRANULARITY 1',
      'ALTER TABLE {db}.a DROP INDEX IF EXISTS j',
    ];
    // A mutation, another table, settings: each breaks the run and stays a statement of its own.
    const apart = [
      'ALTER TABLE {db}.a MATERIALIZE INDEX i',
      'ALTER TABLE {db}.a MODIFY COLUMN y String',
      'ALTER TABLE {db}.b MODIFY COLUMN z String',
      'ALTER TABLE {db}.b ADD COLUMN w String SETTINGS mutations_sync = 2',
      'ALTER TABLE {db}.b ADD COLUMN v String',
      'ALTER TABLE {db}.b MODIFY SETTING index_granularity = 1024',
      'ALTER TABLE {db}.b ADD COLUMN u String',
    ];
    expect(joinAlters([create, ...changes, ...apart])).toEqual([
      create,
      'ALTER TABLE {db}.a ADD COLUMN IF NOT EXISTS y Map(LowCardinality(String), UInt32), ADD INDEX IF NOT EXISTS i y TYPE minmax GRANULARITY 1, DROP INDEX IF EXISTS j',
      ...apart,
    ]);
  });
});

describe('migrate (chDB)', () => {
  let dir: string;
  let joined: Store;
  let oneByOne: Store;

  /** Every table's and view's definition (not migrate()'s own record), without what differs between two databases. */
  async function schema(store: Store): Promise<string[]> {
    const rs = await store.client.query({
      query: "SELECT name, create_table_query AS q FROM system.tables WHERE database = {db:String} AND name != 'schema_migrations' ORDER BY name",
      query_params: { db: store.database },
      format: 'JSONEachRow',
    });
    return (await rs.json<{ name: string; q: string }>()).map((r) => r.q.replaceAll(`${store.database}.`, 'DB.').replace(/UUID '[^']+'/g, "UUID ''"));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatelog-migrate-'));
    // One path per process (chDB): two databases in it.
    joined = await openStore({ clickhouse: 'embedded', database: 'gl_joined' }, dir);
    oneByOne = await openStore({ clickhouse: 'embedded', database: 'gl_one_by_one' }, dir);
  });

  afterAll(async () => {
    await joined.close();
    await oneByOne.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the schema that every landed statement run one by one builds, in fewer statements', async () => {
    const all = listMigrations();
    expect(await migrate(joined)).toEqual(all.map((m) => m.version));
    await oneByOne.client.command({ query: `CREATE DATABASE ${oneByOne.database}` });
    let statements = 0;
    let run = 0;
    for (const m of all) {
      statements += m.statements.length;
      run += joinAlters(m.statements).length;
      for (const stmt of m.statements) await oneByOne.client.command({ query: stmt.replaceAll('{db}', oneByOne.database) });
    }
    const tables = await schema(joined);
    expect(tables.length).toBeGreaterThan(10);
    expect(tables).toEqual(await schema(oneByOne));
    expect(run).toBeLessThan(statements);
  });

  it('applies nothing twice, and a migration cut short runs again to the end', async () => {
    expect(await migrate(joined)).toEqual([]);
    const last = listMigrations().at(-1)!;
    await joined.client.command({ query: `ALTER TABLE ${joined.database}.schema_migrations DELETE WHERE version = {v:UInt32} SETTINGS mutations_sync = 2`, query_params: { v: last.version } });
    const before = await schema(joined);
    expect(await migrate(joined)).toEqual([last.version]);
    expect(await schema(joined)).toEqual(before);
  });
});

// A fresh embedded store (chDB) with gatelog's schema, in a directory of its own, for the tests
// of one file: open it in beforeAll, close it (directory and all) in afterAll.
import { rmSync } from 'node:fs';
import { migrate, openStore, type Store } from '@gatelog/core';
import { seededDataDir } from './store-template.ts';

export interface TempStore {
  store: Store;
  close(): Promise<void>;
}

export async function tempEmbeddedStore(prefix: string): Promise<TempStore> {
  const root = seededDataDir(`${prefix}-`);
  const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, root);
  await migrate(store);
  return {
    store,
    async close() {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

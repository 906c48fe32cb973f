// Child of store-template.ts: migrates an embedded store in the data dir given as argument.
import { migrate, openStore } from '@gatelog/core';

const dir = process.argv[2];
if (!dir) throw new Error('usage: store-template-build.ts DATA_DIR');
const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
await migrate(store);
await store.close();
// chDB's exit handlers can hang a process that is done (a known chDB issue): leave now.
process.exit(0);

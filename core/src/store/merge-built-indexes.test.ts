// The body word indexes are built by merges, not by inserts, in the embedded store (chDB); the
// same checks run over HTTP in test/e2e/merge-built-indexes-http.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeBuiltIndexSuite } from '../../../test/support/merge-built-suite.ts';
import { StorageConfig } from '../config.ts';
import { openStore } from './client.ts';

let dir = '';
mergeBuiltIndexSuite('embedded (chDB)', async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-merge-built-'));
  return openStore(StorageConfig.parse({}), dir);
}, async () => {
  rmSync(dir, { recursive: true, force: true });
});

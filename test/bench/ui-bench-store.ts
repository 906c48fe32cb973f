// The UI bench's store: a reusable embedded data directory (default `.bench-data/ui-<rows>`)
// holding N generated calls. A `bench-meta.json` beside the data records what was loaded;
// a rerun whose row count still matches reuses the store and skips the load.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, openStore, StorageConfig, type Store } from '../../core/src/index.ts';
import { generateCalls } from './ui-generate.ts';

export interface BenchMeta {
  rows: number;
  days: number;
  /** Exclusive end of the generated span (UTC midnight), ms since epoch. */
  endMs: number;
  loadS: number;
  loadedAt: string;
}

export interface BenchStore {
  store: Store;
  meta: BenchMeta;
  reused: boolean;
}

async function countRows(store: Store): Promise<number> {
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.llm_calls`, format: 'JSONEachRow' });
  return Number(((await rs.json()) as { n: string | number }[])[0]?.n ?? 0);
}

export async function openBenchStore(dir: string, rows: number, days: number, log: (s: string) => void): Promise<BenchStore> {
  const metaFile = join(dir, 'bench-meta.json');
  if (existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as BenchMeta;
    const store = await openStore(StorageConfig.parse({}), dir);
    await migrate(store);
    const n = await countRows(store);
    if (meta.rows === rows && meta.days === days && n === rows) {
      log(`reusing ${dir}: ${n.toLocaleString('en-US')} calls loaded ${meta.loadedAt}`);
      return { store, meta, reused: true };
    }
    log(`${dir} holds ${n.toLocaleString('en-US')} calls, not ${rows.toLocaleString('en-US')}: reloading`);
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const endMs = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  const t0 = performance.now();
  const loadS = await generateCalls(store, {
    rows,
    days,
    endMs,
    onDay: (d, so) => log(`day ${d + 1}/${days}: ${so.toLocaleString('en-US')} calls, ${Math.round(so / ((performance.now() - t0) / 1000)).toLocaleString('en-US')} calls/s`),
  });
  const meta: BenchMeta = { rows, days, endMs, loadS, loadedAt: new Date().toISOString() };
  writeFileSync(metaFile, JSON.stringify(meta, null, 2));
  return { store, meta, reused: false };
}

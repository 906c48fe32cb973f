// Erasure at scale on the real engine: 100,000 matching calls (among 150,000) erased from
// ClickHouse and from a 150,000-record event log within 60 s on this machine (BENCHMARKS.md,
// "Erasure"). The time is printed for the benchmark notes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../core/src/store/client.ts';
import { migrate } from '../../core/src/store/migrate.ts';
import { LocalLogWriter } from '../../core/src/bus/local-log.ts';
import { encodeEvent } from '../../core/src/event.ts';
import { eraseCalls, EraseRequest } from '../../core/src/store/erasure.ts';
import { seedEvent } from './privacy-support.ts';

const N = 100_000;
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-erase-scale-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  const log = new LocalLogWriter({ dir: join(dir, 'events'), fsyncMs: 1000 });
  const t = Date.now() - 86_400_000;
  // 150,000 calls, two in three of them u-big's: 100,000 match.
  for (let batch = 0; batch < 15; batch++) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const n = batch * 10_000 + i;
      const e = seedEvent({ started_at: new Date(t + n).toISOString(), user: n % 3 !== 2 ? 'u-big' : `u-${n % 97}` }, `scale body ${n} `.repeat(8));
      const line = encodeEvent(e);
      log.append(line);
      lines.push(line.toString());
    }
    await store.insertRaw('llm_calls', Buffer.from(lines.join('\n')));
  }
  log.close();
}, 550_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('erasure at scale', () => {
  it(`erases ${N.toLocaleString('en')} calls from ClickHouse and the event log within 60 s`, async () => {
    const t0 = performance.now();
    const receipt = await eraseCalls(store, EraseRequest.parse({ user: 'u-big' }), { dataDir: dir });
    const ms = performance.now() - t0;
    console.log(`erasure of ${N} calls: ${Math.round(ms)} ms (ClickHouse ${receipt.store_ms} ms, ${receipt.files.records} log records in ${receipt.files.files} files ${receipt.files_ms} ms), ${receipt.bytes} body bytes`);
    expect(receipt.rows).toBe(N);
    expect(receipt.files.records).toBe(N);
    expect(ms).toBeLessThan(60_000);
    const rs = await store.client.query({ query: `SELECT countIf(request_body != '') AS left, count() AS rows FROM gatelog.llm_calls WHERE user = 'u-big' OR (user = '' AND request_body != '')`, format: 'JSONEachRow' });
    expect((await rs.json<{ left: string | number; rows: string | number }>()).map((r) => Number(r.left))).toEqual([0]);
  }, 300_000);
});

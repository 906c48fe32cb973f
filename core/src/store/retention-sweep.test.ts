// The retention sweep as a distributed proxy runs it, over a real spool dir: it reads the active
// legal holds from the store (chDB) without keeping its TTLs, so a held call waiting in the spool
// keeps its bodies past the body period; with the holds unknown it empties only what the relay
// has already handed to Kafka.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { RetentionConfig, writeHold } from './retention.ts';
import { startRetention } from './retention-sweep.ts';
import { LocalLogWriter } from '../bus/local-log.ts';
import { OffsetFile } from '../bus/offset-file.ts';
import { relayOffsetPath, spoolDirOf, spoolLogDir } from '../bus/spool-layout.ts';
import { createLogger } from '../logger.ts';

const DAY = 86_400_000;
const logger = createLogger('silent');
const retention = RetentionConfig.parse({ bodies: '30d' });

/** A call event as the proxy spools it, its bodies naming `secret`. */
function spooled(daysAgo: number, user: string, secret: string): Buffer {
  return Buffer.from(JSON.stringify({
    schema_version: 1, request_id: crypto.randomUUID(), started_at: new Date(Date.now() - daysAgo * DAY).toISOString(),
    trace_id: '', user, key_id: 'key_1', team: '', status: 200, cost_usd: 0.25,
    request_body: `{"messages":[{"role":"user","content":"${secret}"}]}`, response_body: `{"answer":"${secret}"}`, error_message: '',
  }));
}

/** Whether the spool's segments still hold `secret` anywhere. */
function spoolHas(dataDir: string, secret: string): boolean {
  const dir = spoolLogDir(spoolDirOf(dataDir));
  return readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(secret));
}

/** A data dir whose spool holds `records`, the relay having committed the first `relayed`. */
async function spoolWith(records: readonly Buffer[], relayed: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-spool-retention-'));
  const log = new LocalLogWriter({ dir: spoolLogDir(spoolDirOf(dataDir)), fsyncMs: 0 });
  let committed = 0;
  records.forEach((r, i) => {
    const end = log.append(r);
    if (i < relayed) committed = end;
  });
  log.close();
  await new OffsetFile(relayOffsetPath(spoolDirOf(dataDir))).store(committed);
  return dataDir;
}

describe('retention sweep of a proxy spool', () => {
  let root: string;
  let store: Store;
  const dirs: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gatelog-retention-sweep-'));
    store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, root);
    await migrate(store);
  });

  afterAll(async () => {
    await store.close();
    for (const d of [root, ...dirs]) rmSync(d, { recursive: true, force: true });
  });

  it('keeps the bodies of a held call waiting in the spool past the body period, and leaves TTLs to ingest', async () => {
    const held = `held-${crypto.randomUUID()}`;
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${crypto.randomUUID()}`, version: 1, kind: 'user', value: held, reason: 'case 2026-17', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    // Kafka away: nothing relayed yet.
    const dataDir = await spoolWith([spooled(40, held, 'secret-held'), spooled(40, 'bob', 'secret-old'), spooled(1, 'bob', 'secret-new')], 0);
    dirs.push(dataDir);
    const sweep = await startRetention({ holdsStore: store, retention, dataDir, logger });
    sweep.stop();
    await sweep.run();
    expect(spoolHas(dataDir, 'secret-held')).toBe(true);
    expect(spoolHas(dataDir, 'secret-old')).toBe(false);
    expect(spoolHas(dataDir, 'secret-new')).toBe(true);
    // The store was only read: its TTLs are the ingest service's.
    const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.retention_applied`, format: 'JSONEachRow' });
    expect((await rs.json<{ n: string | number }>()).map((r) => Number(r.n))).toEqual([0]);
  });

  it('with the holds unknown (no store), empties only expired bodies already in Kafka', async () => {
    const dataDir = await spoolWith([spooled(40, 'carol', 'secret-relayed'), spooled(40, 'carol', 'secret-waiting')], 1);
    dirs.push(dataDir);
    const sweep = await startRetention({ retention, dataDir, logger });
    sweep.stop();
    await sweep.run();
    expect(spoolHas(dataDir, 'secret-relayed')).toBe(false);
    expect(spoolHas(dataDir, 'secret-waiting')).toBe(true);
  });

  it('with the holds store unreachable, does the same', async () => {
    const dataDir = await spoolWith([spooled(40, 'dave', 'secret-relayed'), spooled(40, 'dave', 'secret-waiting')], 1);
    dirs.push(dataDir);
    const down = await openStore({ clickhouse: { url: 'http://127.0.0.1:1', database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, dataDir);
    try {
      const sweep = await startRetention({ holdsStore: down, retention, dataDir, logger });
      sweep.stop();
      await sweep.run();
      expect(spoolHas(dataDir, 'secret-relayed')).toBe(false);
      expect(spoolHas(dataDir, 'secret-waiting')).toBe(true);
    } finally {
      await down.close();
    }
  });
});

// Erasure reaches every proxy's spool: two proxies (buildProxy on 127.0.0.1:0) over one
// ClickHouse server (the chDB-backed HTTP fixture), Kafka away so the calls made through the
// second wait in its spool. An erasure asked through the first empties the prompts of the
// erased user's calls in the second's spool within its keys refresh; a call under a legal hold
// stays whole. The OpenAI SDK as the client.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, migrate, openStore, parseConfig, spoolDirOf, spoolLogDir, type Store } from '@gatelog/core';
import { Spool } from '../../proxy/src/publish/spool.ts';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';

const MASTER = 'master-key-for-erasure-spool-tests';
const logger = createLogger('silent');

describe('erasure and the other proxies’ spools', () => {
  const ch = new ClickHouseHttpFixture();
  let store: Store;
  let dataDir: string;
  let spool: Spool;
  let eraser: FastifyInstance;
  let other: FastifyInstance;
  let eraserUrl: string;
  let otherUrl: string;

  beforeAll(async () => {
    await ch.start();
    const database = `g_${crypto.randomUUID().replaceAll('-', '')}`;
    const storage = { clickhouse: { url: ch.url, database, username: 'default', password: '' }, database };
    store = await openStore(storage, ch.dir);
    await migrate(store);
    const config = parseConfig({
      storage: { clickhouse: { url: ch.url, database } },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      keys: { refresh_ms: 200 },
    }, 'test', {});
    dataDir = mkdtempSync(join(tmpdir(), 'gatelog-erasure-spools-'));
    // Kafka away: the relay sends nothing, so every call stays in this spool.
    spool = new Spool({ dir: spoolDirOf(dataDir), maxBytes: 1 << 30, logger });
    const deps = { config, logger, masterKey: MASTER };
    eraser = await buildProxy({ ...deps, publish: () => undefined, registry: new Registry(), store: await openStore(storage, ch.dir) });
    other = await buildProxy({ ...deps, publish: (e) => void spool.append(e), registry: new Registry(), store: await openStore(storage, ch.dir), dataDir });
    eraserUrl = await eraser.listen({ port: 0, host: '127.0.0.1' });
    otherUrl = await other.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);

  afterAll(async () => {
    await other?.close();
    await eraser?.close();
    spool?.close();
    await store?.close();
    await ch.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const spoolHas = (text: string): boolean => {
    const dir = spoolLogDir(spoolDirOf(dataDir));
    return readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(text));
  };
  const admin = (path: string, body: unknown): Promise<Response> =>
    fetch(`${eraserUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  /** Polls until `check` holds or `ms` pass; returns its last answer. */
  const within = async (ms: number, check: () => boolean): Promise<boolean> => {
    const t0 = Date.now();
    while (!check() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
    return check();
  };

  it('empties the erased calls in another proxy’s spool within its refresh, and keeps held calls whole', async () => {
    const [alice, held] = [`alice-${crypto.randomUUID()}`, `trace-${crypto.randomUUID()}`];
    const oa = new OpenAI({ baseURL: `${otherUrl}/v1`, apiKey: MASTER, maxRetries: 0 });
    const ask = (content: string, headers: Record<string, string>): Promise<unknown> =>
      oa.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content }] }, { headers: { 'x-gatelog-user': alice, ...headers } });
    await ask('my plan for the merger', {});
    await ask('the board minutes', { 'x-gatelog-trace-id': held });
    expect((await admin('/admin/holds', { kind: 'trace', value: held, reason: 'case 2026-17' })).status).toBe(201);
    expect(await within(2000, () => spoolHas('my plan for the merger') && spoolHas('the board minutes'))).toBe(true);

    const res = await admin('/admin/erase', { user: alice });
    expect(res.status).toBe(200);
    // The eraser has no spool of its own; the other proxy learns of the request at its next look.
    expect(await res.json()).toMatchObject({ object: 'erase.receipt', files: { records: 0 } });
    expect(await within(5000, () => !spoolHas('my plan for the merger'))).toBe(true);
    expect(spoolHas(alice)).toBe(true); // the held call keeps its user too
    expect(spoolHas('the board minutes')).toBe(true);
  }, 60_000);
});

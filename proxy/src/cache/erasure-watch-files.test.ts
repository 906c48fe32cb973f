// Erasures recorded by another proxy reach this one's spool (a real spool dir, live, and a real
// engine: chDB): the watch empties the bodies of the calls spooled before the erasure, leaves
// held calls whole, and the relay still reads every record; the erasures new at a look are
// scrubbed for in one pass.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EraseRequest, LocalLogReader, createLogger, recordErasure, spoolDirOf, spoolLogDir, writeHold, type Store } from '@gatelog/core';
import { startErasureWatch } from './erasure-watch.ts';
import { ResponseCache } from './response-cache.ts';
import { Spool } from '../publish/spool.ts';
import { sampleEvent } from '../../../test/e2e/distributed-events.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';

const logger = createLogger('silent');

describe('erasure watch (data dir)', () => {
  let temp: TempStore;
  let store: Store;
  let dataDir: string;
  let spool: Spool;

  beforeAll(async () => {
    temp = await tempEmbeddedStore('gatelog-erasure-watch-files');
    store = temp.store;
  });
  afterAll(() => temp.close());

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatelog-erasure-watch-spool-'));
    spool = new Spool({ dir: spoolDirOf(dataDir), maxBytes: 1 << 30, logger });
  });
  afterEach(() => {
    spool.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const logDir = (): string => spoolLogDir(spoolDirOf(dataDir));
  const spoolHas = (text: string): boolean => readdirSync(logDir()).some((f) => readFileSync(join(logDir(), f)).includes(text));
  const body = (secret: string): string => JSON.stringify({ messages: [{ role: 'user', content: secret }] });

  it('scrubs the calls spooled before an erasure asked through another proxy, with nothing cached, and leaves held calls whole', async () => {
    const [alice, bob, trace] = [`alice-${crypto.randomUUID()}`, `bob-${crypto.randomUUID()}`, `trace-${crypto.randomUUID()}`];
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${crypto.randomUUID()}`, version: 1, kind: 'trace', value: trace, reason: 'case 2026-17', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    const t = Date.now();
    const started = new Date(t - 5000).toISOString();
    // Kafka away: these wait in this proxy's spool.
    spool.append(sampleEvent({ user: alice, started_at: started, request_body: body('secret-erased'), response_body: '{"answer":"secret-erased"}' }));
    spool.append(sampleEvent({ user: alice, trace_id: trace, started_at: started, request_body: body('secret-held') }));
    spool.append(sampleEvent({ user: bob, started_at: started, request_body: body('secret-bob') }));
    // Started after the erasure: new data.
    spool.append(sampleEvent({ user: alice, started_at: new Date(t + 10).toISOString(), request_body: body('secret-later') }));

    const cache = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 600_000 });
    const watch = startErasureWatch({ store, cache, dataDir, intervalMs: 600_000, logger });
    try {
      // What POST /admin/erase on another proxy records.
      await recordErasure(store, EraseRequest.parse({ user: alice }), t);
      await watch.tick();
      expect(spoolHas('secret-erased')).toBe(false);
      expect(spoolHas('secret-held')).toBe(true);
      expect(spoolHas('secret-bob')).toBe(true);
      expect(spoolHas('secret-later')).toBe(true);

      // The relay reads every record, checksums intact, the erased one without bodies or user.
      spool.append(sampleEvent({ user: bob }));
      const records = new LocalLogReader(logDir()).read(0, 100).records.map((r) => JSON.parse(r.toString()) as { user: string; request_body: string; response_body: string });
      expect(records).toHaveLength(5);
      expect(records[0]).toMatchObject({ user: '', request_body: '', response_body: '' });
      expect(records[1]).toMatchObject({ user: alice, request_body: body('secret-held') });
    } finally {
      watch.stop();
    }
  });

  it('scrubs for every erasure new at a look in one pass, each selected call and only those, one look at a time', async () => {
    const id = (): string => crypto.randomUUID();
    const [alice, bob, key, trace, held] = [`alice-${id()}`, `bob-${id()}`, `key-${id()}`, `trace-${id()}`, `held-${id()}`];
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${id()}`, version: 1, kind: 'user', value: held, reason: 'case 2026-18', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    const t = Date.now();
    const started = new Date(t - 5000).toISOString();
    const calls = [
      { user: alice, secret: 'by-user', erased: true },
      { user: bob, key_id: key, secret: 'by-key', erased: true },
      { user: bob, trace_id: trace, secret: 'by-trace', erased: true },
      // The same call selected by two erasures is scrubbed once.
      { user: alice, key_id: key, secret: 'by-both', erased: true },
      { user: bob, secret: 'not-selected', erased: false },
      { user: held, key_id: key, secret: 'held', erased: false },
      { user: alice, secret: 'started-later', erased: false, started_at: new Date(t + 10).toISOString() },
    ];
    for (const { secret, erased: _, ...over } of calls) spool.append(sampleEvent({ started_at: started, ...over, request_body: body(`secret-${secret}`) }));
    // Legal holds are read once per look that has new requests to scrub for.
    let holdReads = 0;
    const client = new Proxy(store.client, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (q: { query: string }) => {
          if (q.query.includes('legal_holds')) holdReads++;
          return target.query(q as Parameters<typeof target.query>[0]);
        };
      },
    });
    const counted: Store = { ...store, client, database: store.database, kind: store.kind, insertRaw: (t, r, st) => store.insertRaw(t, r, st) };
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    const watch = startErasureWatch({ store: counted, cache: new ResponseCache({ maxBytes: 1 << 20, ttlMs: 600_000 }), dataDir, intervalMs: 600_000, logger: createLogger('info', sink) });
    try {
      for (const r of [{ user: alice }, { key }, { trace }]) await recordErasure(store, EraseRequest.parse(r), t);
      // Two looks asked for at once: the second starts after the first, and finds nothing new.
      expect(await Promise.all([watch.tick(), watch.tick()])).toEqual([0, 0]);
      expect(holdReads).toBe(1);
      for (const c of calls) expect(spoolHas(`secret-${c.secret}`), c.secret).toBe(!c.erased);
      const scrubbed = lines.map((l) => JSON.parse(l) as { msg: string; records?: number }).filter((l) => l.msg.startsWith('erasure: scrubbed'));
      expect(scrubbed.map((l) => l.records)).toEqual([4]);
      const users = new LocalLogReader(logDir()).read(0, 100).records.map((r) => (JSON.parse(r.toString()) as { user: string }).user);
      expect(users).toEqual(['', '', '', '', bob, held, alice]);
    } finally {
      watch.stop();
    }
  });

  it('rewrites this proxy\'s scheduled export files for an erasure asked through another proxy, sparing later calls', async () => {
    const alice = `alice-${crypto.randomUUID()}`;
    const t = Date.now();
    const day = new Date(t - 86_400_000).toISOString().slice(0, 10);
    const dir = join(dataDir, 'exports');
    mkdirSync(dir);
    const file = join(dir, `gatelog-daily-${day}T000000Z.jsonl`);
    const line = (user: string, secret: string, startedAt: number): string =>
      JSON.stringify({ request_id: crypto.randomUUID(), started_at: new Date(startedAt).toISOString(), user, key_id: '', team: '', request_body: body(secret), response_body: '{}', error_message: '' });
    const lines = [line(alice, 'secret-exported', t - 5000), line('bob', 'secret-bob', t - 4000), line(alice, 'secret-after', t + 10)];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const cache = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 600_000 });
    const watch = startErasureWatch({ store, cache, exports: [{ every: 'daily', format: 'jsonl', dir, filter: '' }], intervalMs: 600_000, logger });
    try {
      await recordErasure(store, EraseRequest.parse({ user: alice }), t);
      await watch.tick();
      const after = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(after).toHaveLength(3);
      expect(JSON.parse(after[0]!)).toMatchObject({ user: '', request_body: '', response_body: '' });
      expect(after[1]).toBe(lines[1]); // byte for byte
      expect(after[2]).toBe(lines[2]); // started after the erasure was asked
      expect(readdirSync(dir)).toEqual([`gatelog-daily-${day}T000000Z.jsonl`]); // no manifest to rewrite, nothing left behind
    } finally {
      watch.stop();
    }
  });
});

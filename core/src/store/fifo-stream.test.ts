// The embedded store's streamed results (ClickHouse writing into a FIFO) against a real chDB
// engine: exact bytes beyond the pipe's buffer, bound parameters, a failing query, a reader
// that stops early or aborts, and nothing left behind in the temporary directory.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { openStore, type Store } from './client.ts';
import { sqlString } from './fifo-stream.ts';

let dir: string;
let scratch: string;
let store: Store;
const savedTmp = process.env['TMPDIR'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-fifo-'));
  scratch = join(dir, 'tmp');
  rmSync(scratch, { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(scratch);
  // Every FIFO directory lands here, so the test can see that none is left behind.
  process.env['TMPDIR'] = scratch;
  store = await openStore(StorageConfig.parse({}), dir);
});

afterAll(async () => {
  if (savedTmp === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = savedTmp;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<Uint8Array>): Promise<{ text: string; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return { text: Buffer.concat(parts).toString('utf8'), chunks: parts.length };
}

describe('sqlString', () => {
  it('escapes quotes and backslashes', () => {
    expect(sqlString(`/tmp/a'b\\c`)).toBe(`'/tmp/a\\'b\\\\c'`);
  });
});

describe('embedded streamQuery', () => {
  it('yields exactly what ClickHouse writes, far beyond one pipe buffer, with bound parameters', async () => {
    const n = 300_000;
    const { text, chunks } = await collect(
      store.streamQuery({
        query: `SELECT number, concat({p:String}, toString(number)) AS s FROM numbers({n:UInt32})`,
        params: { p: `x'"\\`, n },
        settings: 'max_block_size = 10000',
        format: 'CSV',
      }),
    );
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(n);
    expect(lines[0]).toBe(`0,"x'""\\0"`);
    expect(lines[n - 1]).toBe(`${n - 1},"x'""\\${n - 1}"`);
    expect(text.length).toBeGreaterThan(4 << 20);
    expect(chunks).toBeGreaterThan(1);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('two streams side by side each get their own rows', async () => {
    const run = (n: number, tag: string): Promise<{ text: string; chunks: number }> =>
      collect(store.streamQuery({ query: `SELECT number, {t:String} FROM numbers({n:UInt32})`, params: { t: tag, n }, format: 'CSV' }));
    const [a, b] = await Promise.all([run(200_000, 'a'), run(150_000, 'b')]);
    const la = a.text.trimEnd().split('\n');
    const lb = b.text.trimEnd().split('\n');
    expect(la).toHaveLength(200_000);
    expect(lb).toHaveLength(150_000);
    expect(la.every((l, i) => l === `${i},"a"`)).toBe(true);
    expect(lb.every((l, i) => l === `${i},"b"`)).toBe(true);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('JSONEachRow as well', async () => {
    const { text } = await collect(store.streamQuery({ query: `SELECT number AS n FROM numbers(3)`, format: 'JSONEachRow' }));
    expect(text).toBe('{"n":0}\n{"n":1}\n{"n":2}\n');
  });

  it('an empty result ends at once with no bytes', async () => {
    const { text } = await collect(store.streamQuery({ query: `SELECT number FROM numbers(10) WHERE number > 100`, format: 'CSV' }));
    expect(text).toBe('');
  });

  it("throws the query's error and leaves nothing behind", async () => {
    await expect(collect(store.streamQuery({ query: `SELECT * FROM no_such_db.no_such_table`, format: 'CSV' }))).rejects.toThrow(/no_such/i);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('a reader that stops early ends the query (no hang), and the store goes on', async () => {
    const t0 = performance.now();
    let got = 0;
    // Endless: only the broken pipe can end it.
    for await (const c of store.streamQuery({ query: `SELECT number, repeat('y', 200) FROM system.numbers`, format: 'CSV' })) {
      got += c.byteLength;
      if (got > 3 << 20) break;
    }
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(readdirSync(scratch)).toEqual([]);
    const { text } = await collect(store.streamQuery({ query: `SELECT 41 + 1`, format: 'CSV' }));
    expect(text).toBe('42\n');
  });

  it('an abort signal stops a running stream with an AbortError', async () => {
    const ac = new AbortController();
    let got = 0;
    const run = (async () => {
      for await (const c of store.streamQuery({ query: `SELECT number, repeat('z', 200) FROM system.numbers`, format: 'CSV', signal: ac.signal })) {
        got += c.byteLength;
        if (got > 2 << 20) ac.abort();
      }
    })();
    await expect(run).rejects.toThrow(/abort/i);
    expect(readdirSync(scratch)).toEqual([]);
  });
});

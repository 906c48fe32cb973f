// Inlined values must mean exactly what bound parameters mean: the same query, bound by the
// engine and inlined as typed hex constants, returns the same row for hostile text, Unicode,
// booleans, floats and times, through a real chDB engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { inlineParams } from './inline-params.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-inline-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const QUERY = `SELECT {s:String} AS s, {b:Bool} AS b, {f:Float64} AS f, {t:DateTime64(3, 'UTC')} AS t, {u:UUID} AS u, {n:UInt32} AS n,
  {a:Array(String)} AS a, {ids:Array(UUID)} AS ids`;

describe('inlineParams', () => {
  const cases: Record<string, unknown>[] = [
    { s: `x'); DROP TABLE gatelog.llm_calls; --\\ {f:Float64} "\n\t end`, b: true, f: 1.5e-7, t: '2026-01-02 03:04:05.678', u: '019ad000-0000-7000-8000-000000000000', n: 0, a: [`it's`, 'back\\slash', "'],['x"], ids: ['019ad000-0000-7000-8000-000000000000'] },
    { s: 'é漢字🙂\u0000\\\\', b: false, f: -1, t: '2000-01-01 00:00:00.000', u: 'ffffffff-ffff-4fff-bfff-ffffffffffff', n: 4294967295, a: ['é漢字🙂', ''], ids: [] },
    { s: '', b: true, f: 1e12, t: '2099-12-31 23:59:59.999', u: '00000000-0000-0000-0000-000000000000', n: 7, a: [], ids: ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-4fff-bfff-ffffffffffff'] },
  ];
  it('returns what the bound query returns', async () => {
    for (const params of cases) {
      const bound = await (await store.client.query({ query: QUERY, query_params: params, format: 'JSONEachRow' })).json();
      const inlined = await (await store.client.query({ query: inlineParams(QUERY, params), format: 'JSONEachRow' })).json();
      expect(inlined).toEqual(bound);
      expect(inlineParams(QUERY, params)).not.toContain(String(params['s']).slice(0, 3) || 'never');
    }
  });

  it('refuses a missing value, nested arrays and objects', () => {
    expect(() => inlineParams('SELECT {a:String}', {})).toThrow(/No value/);
    expect(() => inlineParams('SELECT {a:Float64}', { a: Number.NaN })).toThrow(/cannot be inlined/);
    expect(() => inlineParams('SELECT {a:Array(Array(String))}', { a: [['x']] })).toThrow(/cannot be inlined/);
    expect(() => inlineParams('SELECT {a:String}', { a: { x: 1 } })).toThrow(/cannot be inlined/);
  });
});

// The explorer's body search (call-filter.ts `text`/`wholeWords`, migration 0008): a
// case-insensitive substring match on either body, or whole words only, served by the bodies'
// text indexes and answered exactly either way (index on or off, any punctuation).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { newRequestId } from '../ids.ts';
import { openStore, type Store } from './client.ts';
import { callWhere } from './call-filter.ts';
import { migrate } from './migrate.ts';

let dir: string;
let store: Store;
const bodies: { request_id: string; request_body: string; response_body: string }[] = [];

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-text-search-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const special: Record<number, [string, string]> = {
    7: ['{"messages":[{"content":"Please REFUND my order"}]}', '{}'],
    19: ['{}', '{"content":"a non-refundable ticket"}'],
    33: ['{"content":"Ünïcode Straße"}', '{}'],
    50: ['{"content":"100%_match here"}', '{}'],
  };
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++) {
    const filler = `${WORDS[i % WORDS.length]!} ${WORDS[(i * 7) % WORDS.length]!} ${i}`;
    const [req, res] = special[i === 40_007 ? 7 : i] ?? [`{"content":"${filler}"}`, `{"content":"${filler} ok"}`];
    const row = { request_id: newRequestId(), request_body: req, response_body: res };
    bodies.push(row);
    lines.push(JSON.stringify({ ...row, started_at: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(), client_api: 'openai.chat', outcome: 'success' }));
  }
  await store.insertRaw('llm_calls', Buffer.from(`${lines.join('\n')}\n`), { async_insert: 0 });
  // Inserts leave the word indexes to merges (MERGE_BUILT_INDEXES in client.ts); the merge
  // every part goes through builds them. Searches over unmerged parts: merge-built-indexes.test.ts.
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.llm_calls FINAL` });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function search(text: string, settings: Record<string, number> = { use_skip_indexes: 1 }, wholeWords = false): Promise<string[]> {
  const w = callWhere({ text, wholeWords });
  const rs = await store.client.query({
    query: `SELECT toString(request_id) AS id FROM ${store.database}.llm_calls FINAL ${w.sql}`,
    query_params: w.params, format: 'JSONEachRow', clickhouse_settings: settings,
  });
  return (await rs.json<{ id: string }>()).map((r) => r.id).sort();
}

function expected(text: string): string[] {
  const t = text.toLowerCase();
  return bodies.filter((b) => b.request_body.toLowerCase().includes(t) || b.response_body.toLowerCase().includes(t)).map((b) => b.request_id).sort();
}

/** Lower-cased words as the index's tokenizer cuts them (runs of ASCII alphanumerics or non-ASCII). */
const words = (t: string): string[] => t.toLowerCase().split(/[^a-z0-9\u0080-\uffff]+/).filter(Boolean);

function expectedWhole(text: string): string[] {
  const t = text.toLowerCase();
  const need = words(text);
  const hit = (body: string): boolean => body.toLowerCase().includes(t) && need.every((w) => words(body).includes(w));
  return bodies.filter((b) => hit(b.request_body) || hit(b.response_body)).map((b) => b.request_id).sort();
}

describe('explorer text search', () => {
  it('matches whole words when asked, with and without the index', async () => {
    for (const text of ['refund', 'REFUND MY', 'refundable', 'charlie', '12345', '2345', 'golf 12345', 'ünïcode', 'efunda']) {
      const want = expectedWhole(text);
      expect(await search(text, { use_skip_indexes: 1 }, true), text).toEqual(want);
      expect(await search(text, { use_skip_indexes: 0 }, true), `${text} (no index)`).toEqual(want);
    }
    // Whole words are a narrower match than substrings: "refund" is not "non-refundable".
    expect(expectedWhole('refund')).toHaveLength(2);
    expect(expected('refund')).toHaveLength(3);
    expect(expectedWhole('2345')).toHaveLength(1);
    expect(expected('2345').length).toBeGreaterThan(1);
    // No word to look up: the same as a substring search.
    expect(await search('%_', { use_skip_indexes: 1 }, true)).toEqual(expected('%_'));
  });

  it('lets the text index find a rare whole word without reading the other granules', async () => {
    const w = callWhere({ text: 'ID-12345', wholeWords: true });
    const rs = await store.client.query({ query: `EXPLAIN indexes = 1 SELECT count() FROM ${store.database}.llm_calls ${w.sql}`, query_params: w.params, format: 'TabSeparatedRaw',
      clickhouse_settings: { use_skip_indexes: 1, use_skip_indexes_on_data_read: 0 } });
    const plan = await rs.text();
    const m = /Combined skip indexes[\s\S]*?Granules: (\d+)\/(\d+)/.exec(plan) ?? /Skip[\s\S]*?Granules: (\d+)\/(\d+)/.exec(plan);
    expect(m, plan).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(1);
    expect(Number(m![2])).toBeGreaterThan(1);
  });

  it('matches case-insensitive substrings of either body, with and without the index', async () => {
    for (const text of ['refund', 'Refund', 'REFUND MY', 'efunda', 'ünïcode', 'STRASSE', 'straße', '100%_match', 'charlie', 'nothing-like-this']) {
      const want = expected(text);
      expect(await search(text), text).toEqual(want);
      expect(await search(text, { use_skip_indexes: 0 }), `${text} (no index)`).toEqual(want);
    }
    expect(expected('refund')).toHaveLength(3);
  });

  it('lets the text index skip granules for a word search', async () => {
    const w = callWhere({ text: 'refund' });
    const rs = await store.client.query({ query: `EXPLAIN indexes = 1 SELECT count() FROM ${store.database}.llm_calls ${w.sql}`, query_params: w.params, format: 'TabSeparatedRaw',
      // Analysed while planning, so EXPLAIN shows it (by default the text index is applied as granules are read).
      clickhouse_settings: { use_skip_indexes: 1, use_skip_indexes_on_data_read: 0 } });
    const plan = await rs.text();
    // Rows with the word sit in 2 of the 8 granules (rows 7, 19 and 40,007).
    const m = /Combined skip indexes[\s\S]*?Granules: (\d+)\/(\d+)/.exec(plan);
    expect(m, plan).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(Number(m![2]));
  });
});

// The body word indexes are built by merges, not by inserts (MERGE_BUILT_INDEXES in
// core/src/store/client.ts), checked on a store of either kind: an insert writes a part without
// them (the bloom filters are still built), a search finds its rows all the same, and a merge
// gives the merged part every index. Run by one test file per store kind (chDB allows one data
// directory per process, and the HTTP fixture holds one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, newRequestId, type Store } from '@gatelog/core';
import { callWhere } from '@gatelog/core/store/call-filter';

interface IndexBytes {
  name: string;
  bytes: number | string;
}

async function indexBytes(store: Store): Promise<Map<string, number>> {
  const r = await store.client.query({
    query: 'SELECT name, data_compressed_bytes AS bytes FROM system.data_skipping_indices WHERE database = {db:String} AND table = {t:String}',
    query_params: { db: store.database, t: 'llm_calls' },
    format: 'JSONEachRow',
  });
  return new Map((await r.json<IndexBytes>()).map((x) => [x.name, Number(x.bytes)]));
}

/** Request ids whose bodies hold `word`, by the explorer's own whole-word search (call-filter.ts). */
async function search(store: Store, word: string): Promise<string[]> {
  const w = callWhere({ text: word, wholeWords: true });
  const r = await store.client.query({
    query: `SELECT toString(request_id) AS id FROM ${store.database}.llm_calls FINAL ${w.sql}`,
    query_params: w.params,
    format: 'JSONEachRow',
  });
  return (await r.json<{ id: string }>()).map((x) => x.id).sort();
}

async function insertCalls(store: Store, words: string[]): Promise<string[]> {
  const ids = words.map(() => newRequestId());
  const rows = words.map((w, i) => JSON.stringify({
    request_id: ids[i], started_at: new Date().toISOString(), outcome: 'success', client_api: 'openai.chat',
    request_body: JSON.stringify({ messages: [{ role: 'user', content: `tell me about ${w} please` }] }),
    response_body: JSON.stringify({ choices: [{ message: { content: `here is ${w.toUpperCase()}-lore` } }] }),
  }));
  await store.insertRaw('llm_calls', Buffer.from(`${rows.join('\n')}\n`));
  return ids;
}

export function mergeBuiltIndexSuite(name: string, open: () => Promise<Store>, close: () => Promise<void>): void {
  describe(name, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
      await migrate(store);
      // No background merge may build the indexes before the test looks.
      await store.client.command({ query: `SYSTEM STOP MERGES ${store.database}.llm_calls` });
    });
    afterAll(async () => {
      await store.close();
      await close();
    });

    it('an insert leaves the word indexes to merges; search still finds its rows; a merge builds them', async () => {
      const a = await insertCalls(store, ['zanzibar', 'quokka', 'zanzibar']);
      const b = await insertCalls(store, ['quokka', 'marmalade']);
      const before = await indexBytes(store);
      expect(before.get('idx_request_body_words')).toBe(0);
      expect(before.get('idx_response_body_words')).toBe(0);
      // The other skip indexes are built on insert as before.
      expect(before.get('idx_request')).toBeGreaterThan(0);

      const expected = { zanzibar: [a[0]!, a[2]!].sort(), quokka: [a[1]!, b[0]!].sort(), marmalade: [b[1]!], lore: [...a, ...b].sort() };
      for (const [w, ids] of Object.entries(expected)) expect(await search(store, w)).toEqual(ids);
      expect(await search(store, 'absent')).toEqual([]);

      await store.client.command({ query: `SYSTEM START MERGES ${store.database}.llm_calls` });
      await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.llm_calls FINAL` });
      const after = await indexBytes(store);
      expect(after.get('idx_request_body_words')).toBeGreaterThan(0);
      expect(after.get('idx_response_body_words')).toBeGreaterThan(0);
      for (const [w, ids] of Object.entries(expected)) expect(await search(store, w)).toEqual(ids);
    });
  });
}

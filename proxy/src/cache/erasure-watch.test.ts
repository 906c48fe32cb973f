// Erasures recorded by another proxy reach this one's response cache (a real engine: chDB).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EraseRequest, createLogger, recordErasure, type Store } from '@gatelog/core';
import { startErasureWatch } from './erasure-watch.ts';
import { ResponseCache, type CachedResponse } from './response-cache.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';

const completion = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
const entry = (user: string, startedMs: number): CachedResponse => ({
  body: Buffer.from(JSON.stringify(completion)), contentType: 'application/json', costUsd: 0.001, inputTokens: 3, outputTokens: 1,
  provider: 'openai', upstreamModel: 'gpt-4o-mini', createdAt: startedMs,
  origin: { user, key_id: 'key_1', trace_id: '', team: '', started_at: new Date(startedMs).toISOString() },
});

describe('erasure watch (response cache)', () => {
  let temp: TempStore;
  let store: Store;

  beforeAll(async () => {
    temp = await tempEmbeddedStore('gatelog-erasure-watch');
    store = temp.store;
  });

  afterAll(() => temp.close());

  it('drops the cached answers of calls that started before an erasure recorded elsewhere, once', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 600_000 });
    const watch = startErasureWatch({ store, cache, intervalMs: 600_000, logger: createLogger('silent') });
    try {
      const [alice, bob] = [`alice-${crypto.randomUUID()}`, `bob-${crypto.randomUUID()}`];
      const t = Date.now();
      cache.put('a', 200, completion, entry(alice, t - 5000), t);
      cache.put('b', 200, completion, entry(bob, t - 5000), t);
      await recordErasure(store, EraseRequest.parse({ user: alice }), t);
      // A call of the same user that started after the erasure is new data.
      cache.put('a-later', 200, completion, entry(alice, t + 10), t + 20);
      expect(await watch.tick()).toBe(1);
      expect(cache.get('a', t + 30)).toBeUndefined();
      expect(cache.get('b', t + 30)).toBeDefined();
      expect(cache.get('a-later', t + 30)).toBeDefined();
      expect(await watch.tick()).toBe(0);
      // A request recorded later is read at the next look.
      await recordErasure(store, EraseRequest.parse({ user: bob }), Date.now());
      expect(await watch.tick()).toBe(1);
      expect(cache.stats().entries).toBe(1);
    } finally {
      watch.stop();
    }
  });
});

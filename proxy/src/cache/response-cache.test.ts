import { describe, expect, it } from 'vitest';
import { ERASURE_REREAD_MS, EraseRequest } from '@gatelog/core';
import { ResponseCache, isStorableCompletion, type CachedResponse } from './response-cache.ts';

const completion = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
const entry = (body: unknown, origin: Partial<CachedResponse['origin']> = {}): CachedResponse => ({
  body: Buffer.from(JSON.stringify(body)),
  contentType: 'application/json',
  costUsd: 0.0012,
  inputTokens: 10,
  outputTokens: 2,
  provider: 'openai',
  upstreamModel: 'gpt-4o-mini',
  createdAt: 0,
  origin: { user: '', key_id: 'key_1', trace_id: '', team: '', started_at: '2026-12-04T10:00:00.000Z', ...origin },
});

describe('isStorableCompletion', () => {
  it.each<[string, number, unknown, boolean]>([
    ['complete', 200, completion, true],
    ['error status', 500, completion, false],
    ['error body', 200, { error: { message: 'x' } }, false],
    ['partial (no finish_reason)', 200, { ...completion, choices: [{ index: 0, message: {}, finish_reason: null }] }, false],
    ['no choices', 200, { ...completion, choices: [] }, false],
    ['not json', 200, 'text', false],
  ])('%s → %s', (_n, status, body, want) => {
    expect(isStorableCompletion(status, body)).toBe(want);
  });
});

describe('ResponseCache', () => {
  it('stores complete responses for the TTL and refuses the rest', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 60_000 });
    expect(c.put('k', 200, completion, entry(completion), 0)).toBe(true);
    expect(c.put('bad', 502, completion, entry(completion), 0)).toBe(false);
    expect(c.get('k', 59_999)?.body.toString()).toBe(JSON.stringify(completion));
    expect(c.get('bad', 0)).toBeUndefined();
    expect(c.get('k', 60_000)).toBeUndefined();
    expect(c.put('short', 200, completion, entry(completion), 0, 10)).toBe(true);
    expect(c.get('short', 10)).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 1 });
  });

  it('purges the answers of the calls an erasure selects, as erasure selects them', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 60_000 });
    c.put('alice-1', 200, completion, entry(completion, { user: 'alice' }), 0);
    c.put('alice-old', 200, completion, entry(completion, { user: 'alice', started_at: '2020-01-01T00:00:00.000Z' }), 0);
    c.put('bob', 200, completion, entry(completion, { user: 'bob', key_id: 'key_2' }), 0);
    const purge = (r: unknown): number => c.forget({ id: 'e', at: Date.parse('2026-12-04T11:00:00.000Z'), request: EraseRequest.parse(r) }, 0);
    expect(purge({ user: 'alice', before: '2021-01-01' })).toBe(1);
    expect(c.get('alice-old', 1)).toBeUndefined();
    expect(c.get('alice-1', 1)).toBeDefined();
    expect(purge({ key: 'key_2' })).toBe(1);
    expect(purge({ user: 'alice' })).toBe(1);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
    // A call of alice's that was running during the erasure is not cached when it ends; one that
    // started after it is.
    expect(c.put('alice-running', 200, completion, entry(completion, { user: 'alice', started_at: '2026-12-04T10:59:59.000Z' }), 1)).toBe(false);
    expect(c.put('alice-after', 200, completion, entry(completion, { user: 'alice', started_at: '2026-12-04T11:00:01.000Z' }), 1)).toBe(true);
    // The erasure is forgotten after a call's longest life.
    expect(c.put('alice-running', 200, completion, entry(completion, { user: 'alice', started_at: '2026-12-04T10:59:59.000Z' }), ERASURE_REREAD_MS + 1)).toBe(true);
  });

  it("a team-scoped erasure drops only its teams' answers", () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, ttlMs: 60_000 });
    c.put('alice-red', 200, completion, entry(completion, { user: 'alice', team: 'red' }), 0);
    c.put('alice-blue', 200, completion, entry(completion, { user: 'alice', team: 'blue' }), 0);
    c.put('alice-none', 200, completion, entry(completion, { user: 'alice' }), 0);
    expect(c.forget({ id: 'e', at: Date.parse('2026-12-04T11:00:00.000Z'), request: EraseRequest.parse({ user: 'alice', teams: ['red'] }) }, 0)).toBe(1);
    expect(c.get('alice-red', 1)).toBeUndefined();
    expect(c.get('alice-blue', 1)).toBeDefined();
    expect(c.get('alice-none', 1)).toBeDefined();
    // A running call of alice's in another team is cached when it ends.
    expect(c.put('alice-blue-running', 200, completion, entry(completion, { user: 'alice', team: 'blue', started_at: '2026-12-04T10:59:59.000Z' }), 1)).toBe(true);
    expect(c.put('alice-red-running', 200, completion, entry(completion, { user: 'alice', team: 'red', started_at: '2026-12-04T10:59:59.000Z' }), 1)).toBe(false);
  });
});

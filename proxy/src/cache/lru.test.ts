import { describe, expect, it } from 'vitest';
import { ByteLru } from './lru.ts';

const OVERHEAD = 96;
/** Byte cost of an entry with a 1-char key and a value of `n` bytes. */
const cost = (n: number): number => n + 2 + OVERHEAD;
const lru = (entries: number, valueBytes = 100): ByteLru<Buffer> => new ByteLru<Buffer>({ maxBytes: entries * cost(valueBytes), sizeOf: (b) => b.byteLength });

describe('ByteLru', () => {
  it('evicts the least recently used entry when the byte bound is reached', () => {
    const c = lru(3);
    for (const k of ['a', 'b', 'c']) c.set(k, Buffer.alloc(100), 1000, 0);
    expect(c.get('a', 1)).toBeDefined(); // a is now most recent; b is the LRU
    c.set('d', Buffer.alloc(100), 1000, 1);
    expect(c.get('b', 2)).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => c.get(k, 2) !== undefined)).toEqual([true, true, true]);
    expect(c.stats()).toMatchObject({ entries: 3, bytes: 3 * cost(100), evictions: 1 });
  });

  it('a big entry evicts as many as needed; one larger than the bound is not stored', () => {
    const c = lru(3);
    for (const k of ['a', 'b', 'c']) c.set(k, Buffer.alloc(100), 1000, 0);
    expect(c.set('e', Buffer.alloc(2 * 100 + 2 + OVERHEAD), 1000, 0)).toBe(true);
    expect(c.stats().entries).toBe(2);
    expect(c.get('c', 0)).toBeDefined();
    expect(c.set('x', Buffer.alloc(10_000), 1000, 0)).toBe(false);
    expect(c.get('x', 0)).toBeUndefined();
  });

  it('expires entries by TTL on an injected clock', () => {
    const c = lru(3);
    c.set('a', Buffer.from('v'), 1000, 0);
    expect(c.get('a', 999)).toBeDefined();
    expect(c.get('a', 1000)).toBeUndefined();
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 1, misses: 1 });
    expect(c.set('z', Buffer.from('v'), 0, 0)).toBe(false);
  });

  it('replacing a key updates bytes and recency; delete and clear', () => {
    const c = lru(3);
    c.set('a', Buffer.alloc(10), 1000, 0);
    c.set('a', Buffer.alloc(20), 1000, 0);
    expect(c.stats()).toMatchObject({ entries: 1, bytes: cost(20) });
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    c.set('b', Buffer.alloc(1), 1000, 0);
    c.clear();
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('stays within its bound under many inserts', () => {
    const c = new ByteLru<Buffer>({ maxBytes: 10_000, sizeOf: (b) => b.byteLength });
    for (let i = 0; i < 2000; i++) {
      c.set(`k${i}`, Buffer.alloc((i * 37) % 500), 60_000, i);
      expect(c.stats().bytes).toBeLessThanOrEqual(10_000);
    }
    expect(c.get('k1999', 2000)).toBeDefined();
    expect(c.get('k0', 2000)).toBeUndefined();
  });
});

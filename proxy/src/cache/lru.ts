// An LRU bounded by total bytes, with a TTL per entry. A Map keeps insertion order, so
// "move to most recent" is delete + set and the least recently used entry is the first key:
// get, set and eviction are O(1). Expired entries are dropped when touched or when they
// reach the LRU end; the clock is passed in so tests need no sleeps.

/** Bookkeeping per entry (Map slot, key string, fields), counted towards the byte bound. */
const ENTRY_OVERHEAD = 96;

interface Slot<V> {
  value: V;
  bytes: number;
  expiresAt: number;
}

export interface LruStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

export class ByteLru<V> {
  readonly #map = new Map<string, Slot<V>>();
  readonly #maxBytes: number;
  readonly #sizeOf: (v: V) => number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(o: { maxBytes: number; sizeOf: (v: V) => number }) {
    this.#maxBytes = o.maxBytes;
    this.#sizeOf = o.sizeOf;
  }

  get(key: string, now: number): V | undefined {
    const slot = this.#map.get(key);
    if (!slot || slot.expiresAt <= now) {
      if (slot) this.#remove(key, slot);
      this.#misses++;
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, slot);
    this.#hits++;
    return slot.value;
  }

  /** Store `value` for `ttlMs`; false (and nothing stored) if it alone exceeds the bound. */
  set(key: string, value: V, ttlMs: number, now: number): boolean {
    const bytes = this.#sizeOf(value) + key.length * 2 + ENTRY_OVERHEAD;
    const old = this.#map.get(key);
    if (old) this.#remove(key, old);
    if (bytes > this.#maxBytes || ttlMs <= 0) return false;
    while (this.#bytes + bytes > this.#maxBytes) {
      const first = this.#map.entries().next();
      if (first.done) break;
      const [k, s] = first.value;
      this.#remove(k, s);
      if (s.expiresAt > now) this.#evictions++;
    }
    this.#map.set(key, { value, bytes, expiresAt: now + ttlMs });
    this.#bytes += bytes;
    return true;
  }

  delete(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot) this.#remove(key, slot);
    return slot !== undefined;
  }

  /** Remove every entry whose value `match`es; returns how many. */
  deleteWhere(match: (v: V) => boolean): number {
    let n = 0;
    for (const [key, slot] of this.#map) {
      if (!match(slot.value)) continue;
      this.#remove(key, slot); // deleting the current entry while iterating a Map is safe
      n++;
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  stats(): LruStats {
    return { entries: this.#map.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  #remove(key: string, slot: Slot<V>): void {
    this.#map.delete(key);
    this.#bytes -= slot.bytes;
  }
}

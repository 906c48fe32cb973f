// What the exact-match cache holds per request, and the rule for what may be stored: only a
// complete, successful chat.completion (every choice finished). Errors, partial or aborted
// streams never get here. One entry serves both delivery modes: the non-stream body bytes
// are returned as-is, and a stream request is replayed from the same body (replay.ts).
import { ERASURE_REREAD_MS, erasureRule, type RecordedErasure } from '@gatelog/core';
import { ByteLru, type LruStats } from './lru.ts';

export interface CachedResponse {
  /** The final non-stream JSON body (for a streamed call: the assembled chat.completion). */
  body: Buffer;
  contentType: string;
  /** What the original call cost: a hit records cost 0 and this as the saving. */
  costUsd: number | null;
  inputTokens: number;
  outputTokens: number;
  /** Alias / upstream model that produced it, for the event of the hit. */
  provider: string;
  upstreamModel: string;
  createdAt: number;
  /** The call the answer came from, as erasure selects calls (forget). */
  origin: CacheOrigin;
}

/** What erasure selects a call by: its user, key, trace, team and start (an event's fields). */
export interface CacheOrigin {
  user: string;
  key_id: string;
  trace_id: string;
  /** A team-scoped erasure drops only its teams' answers. */
  team: string;
  started_at: string;
}

export function cachedResponseBytes(r: CachedResponse): number {
  return r.body.byteLength + r.contentType.length + r.provider.length + r.upstreamModel.length + 64;
}

/** True for a body that may be cached: a chat.completion whose choices all finished. */
export function isStorableCompletion(status: number, body: unknown): boolean {
  if (status !== 200 || !body || typeof body !== 'object') return false;
  const b = body as { object?: unknown; choices?: unknown };
  if (b.object !== 'chat.completion' || !Array.isArray(b.choices) || b.choices.length === 0) return false;
  return b.choices.every((c: unknown) => {
    const fr = (c as { finish_reason?: unknown } | null)?.finish_reason;
    return typeof fr === 'string' && fr !== '';
  });
}

export interface ResponseCacheOptions {
  maxBytes: number;
  ttlMs: number;
}

export class ResponseCache {
  readonly #lru: ByteLru<CachedResponse>;
  readonly #ttlMs: number;
  /** Recent erasures, for calls that were running when they were asked (put). */
  #erasures: { covers: (o: CacheOrigin) => boolean; until: number }[] = [];

  constructor(o: ResponseCacheOptions) {
    this.#lru = new ByteLru({ maxBytes: o.maxBytes, sizeOf: cachedResponseBytes });
    this.#ttlMs = o.ttlMs;
  }

  get(key: string, now: number): CachedResponse | undefined {
    return this.#lru.get(key, now);
  }

  /**
   * Returns false when not stored (too large, not a complete successful completion, or from a
   * call an erasure noted here selects: one that started before it and ended after it).
   */
  put(key: string, status: number, parsedBody: unknown, entry: CachedResponse, now: number, ttlMs = this.#ttlMs): boolean {
    if (!isStorableCompletion(status, parsedBody)) return false;
    if (this.#erasures.some((e) => e.until > now && e.covers(entry.origin))) return false;
    return this.#lru.set(key, entry, ttlMs, now);
  }

  /**
   * An erasure: drops the answers of the calls it selects (those that started before it) and
   * refuses them from calls still running, for ERASURE_REREAD_MS. Returns how many were dropped.
   */
  forget(e: RecordedErasure, now: number): number {
    const rule = erasureRule(e, []);
    const covers = (o: CacheOrigin): boolean => rule.match({ ...o });
    this.#erasures = [...this.#erasures.filter((x) => x.until > now), { covers, until: now + ERASURE_REREAD_MS }];
    return this.#lru.deleteWhere((r) => covers(r.origin));
  }

  stats(): LruStats {
    return this.#lru.stats();
  }
}

// How POST /admin/replay tells the /v1 pipeline that a call is a replay. The replay is sent
// through the proxy's own routes (app.inject: governance, routing, recording as for any call)
// with a header only this process can mint: a per-process secret and the original's id. A
// client that sends the header without the secret is ignored, so nobody can forge replay_of.
// The mark also carries the original's team and key: a replay is counted and seen where the
// original is, and admitted as the original's key (its model allow-list, rate limits, budgets).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const REPLAY_HEADER = 'x-gatelog-replay-of';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Replayed {
  requestId: string;
  /** The original call's team ('' = none). */
  team: string;
  /** The original call's virtual key id ('' = none: made with the master key or open). */
  keyId: string;
}

export interface ReplayMark {
  /** The header value marking a replay of `r.requestId`. */
  header(r: Replayed): string;
  /** What a genuine mark names, else undefined. */
  read(h: IncomingHttpHeaders): Replayed | undefined;
}

/** A field of the mark: percent-encoded, dots included (they separate the fields). */
const field = (s: string): string => encodeURIComponent(s).replaceAll('.', '%2E');

export function createReplayMark(secret: Buffer = randomBytes(24)): ReplayMark {
  const hex = secret.toString('hex');
  return {
    header: (r) => `${hex}.${r.requestId}.${field(r.keyId)}.${field(r.team)}`,
    read(h) {
      const v = h[REPLAY_HEADER];
      if (typeof v !== 'string') return undefined;
      const i = v.indexOf('.');
      const j = v.indexOf('.', i + 1);
      const given = i > 0 ? v.slice(0, i) : '';
      const id = j > i ? v.slice(i + 1, j) : '';
      const k = j > i ? v.indexOf('.', j + 1) : -1;
      const keyId = k > j ? v.slice(j + 1, k) : '';
      const team = k > j ? v.slice(k + 1) : '';
      const a = Buffer.from(given);
      const want = Buffer.from(hex);
      if (a.length !== want.length || !timingSafeEqual(a, want) || !UUID_RE.test(id) || k < 0) return undefined;
      try {
        return { requestId: id, team: decodeURIComponent(team), keyId: decodeURIComponent(keyId) };
      } catch {
        return undefined;
      }
    },
  };
}

/** This process's mark: the replay route mints it, newCallRecord reads it. */
export const replayMark: ReplayMark = createReplayMark();

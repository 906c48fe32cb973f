// How POST /admin/replay tells the /v1 pipeline that a call is a replay. The replay is sent
// through the proxy's own routes (app.inject: governance, routing, recording as for any call)
// with a header only this process can mint: a per-process secret and the original's id. A
// client that sends the header without the secret is ignored, so nobody can forge replay_of.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const REPLAY_HEADER = 'x-gatelog-replay-of';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ReplayMark {
  /** The header value marking a replay of `requestId`. */
  header(requestId: string): string;
  /** The replayed request id a genuine mark names, else undefined. */
  read(h: IncomingHttpHeaders): string | undefined;
}

export function createReplayMark(secret: Buffer = randomBytes(24)): ReplayMark {
  const hex = secret.toString('hex');
  return {
    header: (id) => `${hex}.${id}`,
    read(h) {
      const v = h[REPLAY_HEADER];
      if (typeof v !== 'string') return undefined;
      const dot = v.indexOf('.');
      const given = Buffer.from(v.slice(0, Math.max(0, dot)));
      const id = v.slice(dot + 1);
      const want = Buffer.from(hex);
      return dot > 0 && given.length === want.length && timingSafeEqual(given, want) && UUID_RE.test(id) ? id : undefined;
    },
  };
}

/** This process's mark: the replay route mints it, newCallRecord reads it. */
export const replayMark: ReplayMark = createReplayMark();

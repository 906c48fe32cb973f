// The rate limits of a request that is not a model call (the Files and Batches API): it counts
// as one request against the key's and its team's rpm and holds a max_parallel slot of each
// while it runs, as a call does; tpm does not apply (no tokens). Refusals are the calls' own
// (429 rate_limit_exceeded / team_rate_limit_exceeded / parallel_limit_exceeded, Retry-After,
// x-ratelimit-*). A key (and team) with neither rpm nor max_parallel takes nothing.
import type { VirtualKey } from './keys.ts';
import { rateLimitHeaders, tightest, type RateLimits, type RatePermit, type RateStates } from './rate-limit.ts';
import { BackendUnavailableError } from './backend.ts';
import type { Governance } from './runtime.ts';
import { TEAM_SUBJECT, teamLimiterId, teamRate } from './team-policy.ts';
import { STATE_UNAVAILABLE, type Refusal } from './refusal.ts';

export type RequestHold =
  | { ok: true; headers: Record<string, string>; release: (() => Promise<void>) | undefined }
  | { ok: false; refusal: Refusal };

const NOTHING: RequestHold = { ok: true, headers: {}, release: undefined };

/** Only the dimensions a request without tokens counts against; null when none is set. */
function requestLimits(l: RateLimits | null): RateLimits | null {
  if (!l || (l.rpm === null && l.maxParallel === null)) return null;
  return { rpm: l.rpm, tpm: null, maxParallel: l.maxParallel };
}

/**
 * Take one request (and a parallel slot) of the key's limits, then of its team's: the key's
 * first, so a key over its own limits does not use up the team's. `release` gives the slots
 * back (idempotent; call it however the request ends).
 */
export async function holdRequest(g: Pick<Governance, 'teams' | 'limiter' | 'now'>, key: VirtualKey): Promise<RequestHold> {
  const own = requestLimits({ rpm: key.rpm, tpm: null, maxParallel: key.max_parallel });
  const team = requestLimits(teamRate(g.teams, key));
  if (!own && !team) return NOTHING;
  const now = g.now();
  const permits: RatePermit[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(permits.map((p) => g.limiter.settle(p, 0, g.now())));
  };
  const passed: RateStates[] = [];
  try {
    const steps: [string, RateLimits | null, typeof TEAM_SUBJECT | undefined][] = [[key.id, own, undefined], [teamLimiterId(key.team), team, TEAM_SUBJECT]];
    for (const [id, limits, subject] of steps) {
      if (!limits) continue;
      const r = await g.limiter.acquire(id, limits, 0, now, subject);
      if (!r.ok) {
        await release();
        return r;
      }
      permits.push(r.permit);
      passed.push(r.states);
    }
  } catch (err) {
    if (!(err instanceof BackendUnavailableError)) throw err;
    await release().catch(() => undefined);
    return { ok: false, refusal: STATE_UNAVAILABLE };
  }
  // As a call's: per dimension, whichever of the key's and the team's has fewer left.
  return { ok: true, headers: rateLimitHeaders(tightest(passed)), release };
}

// Choosing one deployment of an alias: weighted random, least busy (fewest in flight), or
// lowest latency (EWMA; untried deployments first so each gets measured). Deployments in
// cooldown, at their rpm, or already tried by this call are skipped. Pure: clock and random in.
import type { DeploymentState } from './deployment-state.ts';

export type Strategy = 'weighted' | 'least-busy' | 'latency';

export interface Candidate {
  state: DeploymentState;
  weight: number;
  /** attempt_timeout_ms of this deployment in this alias (else the alias's); undefined: none. */
  attemptMs?: number | undefined;
}

function weightedAmong(cands: readonly Candidate[], ok: (c: Candidate) => boolean, random: () => number): Candidate | null {
  let sum = 0;
  let only: Candidate | null = null;
  let n = 0;
  for (const c of cands) {
    if (!ok(c)) continue;
    sum += c.weight;
    only = c;
    n++;
  }
  if (n <= 1) return only;
  let r = random() * sum;
  for (const c of cands) {
    if (!ok(c)) continue;
    r -= c.weight;
    if (r < 0) return c;
  }
  return only;
}

export function pick(
  strategy: Strategy,
  cands: readonly Candidate[],
  tried: ReadonlySet<DeploymentState> | null,
  now: number,
  random: () => number,
): Candidate | null {
  const eligible = (c: Candidate): boolean => (tried === null || !tried.has(c.state)) && c.state.health(now) !== 'cooling' && !c.state.atLimit(now);
  if (cands.length === 1) {
    const c = cands[0]!;
    return eligible(c) ? c : null;
  }
  if (strategy === 'weighted') return weightedAmong(cands, eligible, random);
  if (strategy === 'least-busy') {
    let min = Infinity;
    for (const c of cands) if (eligible(c) && c.state.inFlight < min) min = c.state.inFlight;
    return weightedAmong(cands, (c) => eligible(c) && c.state.inFlight === min, random);
  }
  // latency
  const untried = weightedAmong(cands, (c) => eligible(c) && c.state.ewmaMs < 0, random);
  if (untried) return untried;
  let best: Candidate | null = null;
  for (const c of cands) if (eligible(c) && (best === null || c.state.ewmaMs < best.state.ewmaMs)) best = c;
  return best;
}

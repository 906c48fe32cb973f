// The attempt plan of one call: which deployment to try first, and after each failure what
// to try next and after what delay — another deployment of the alias (at once), the same one
// again (after backoff / Retry-After), the alias's fallbacks, or the context-window fallbacks —
// all within one total deadline — and how long each attempt may wait for its first byte (an
// explicit attempt limit, else a fair share of what remains when something else could still be
// tried, so a hung deployment cannot eat its fallback's time). Pure: the caller passes the clock
// reading and random source.
import { backoffMs, type Backoff } from './retry-policy.ts';
import { pick, type Candidate, type Strategy } from './strategy.ts';
import type { DeploymentState } from './deployment-state.ts';
import type { RouteOptions } from './overrides.ts';
import type { AttemptLimits } from './attempt.ts';

export interface AliasRoute {
  name: string;
  strategy: Strategy;
  /** Per-deployment limits are on the candidates (Candidate.attemptMs), the alias's already folded in. */
  candidates: readonly Candidate[];
  fallbacks: readonly AliasRoute[];
  contextFallbacks: readonly AliasRoute[];
}

export interface Target {
  state: DeploymentState;
  /** The alias this deployment was chosen for. */
  alias: string;
  /** Configured time limit of an attempt on it until the first byte, ms (deployment, else alias); undefined: none. */
  attemptMs?: number | undefined;
}

export interface AttemptFailure {
  retryable: boolean;
  /** `upstream_timeout`: the deployment sent nothing in time, so it is not tried again while a fallback remains. */
  errorClass?: string;
  /** The upstream said the prompt does not fit the model's context. */
  contextWindow: boolean;
  /** What the upstream asked for (Retry-After), ms; null when it said nothing. */
  retryAfterMs: number | null;
}

export interface NextStep {
  target: Target;
  delayMs: number;
}

export class AttemptPlan {
  /** Clock ms after which nothing more is tried. */
  readonly deadline: number;
  readonly first: Target;
  private readonly opts: RouteOptions;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private chain: readonly AliasRoute[];
  private aliasIdx = 0;
  private retriesUsed = 0;
  private sameRetries = 0;
  private last: Target;
  /** Deployments tried in the current alias; made on the first retry (most calls never need it). */
  private tried: Set<DeploymentState> | null = null;
  private contextSwitched = false;

  constructor(root: AliasRoute, opts: RouteOptions, backoff: Backoff, now: number, random: () => number) {
    this.opts = opts;
    this.backoff = backoff;
    this.random = random;
    this.deadline = now + opts.totalMs;
    this.chain = opts.fallbacks && root.fallbacks.length > 0 ? [root, ...root.fallbacks] : [root];
    this.first = this.enter(0, now) ?? lastResort(root, this.chain, now);
    this.last = this.first;
  }

  private triedSet(): Set<DeploymentState> {
    if (!this.tried) this.tried = new Set([this.last.state]);
    return this.tried;
  }

  /** Root alias of the chain currently walked. */
  private root(): AliasRoute {
    return this.chain[0]!;
  }

  /** Pick in alias `from` or the first later alias with a healthy deployment. */
  private enter(from: number, now: number): Target | null {
    for (let i = from; i < this.chain.length; i++) {
      const a = this.chain[i]!;
      const c = pick(a.strategy, a.candidates, null, now, this.random);
      if (c) {
        this.aliasIdx = i;
        this.retriesUsed = 0;
        this.sameRetries = 0;
        this.tried?.clear();
        return targetOf(c, a.name);
      }
    }
    return null;
  }

  private take(t: Target, delayMs: number): NextStep {
    this.last = t;
    this.triedSet().add(t.state);
    return { target: t, delayMs };
  }

  /** What to do after a failed attempt; null: give up and answer with that failure. */
  next(f: AttemptFailure, now: number): NextStep | null {
    if (now >= this.deadline) return null;
    if (f.contextWindow) {
      const cw = this.root().contextFallbacks;
      if (this.contextSwitched || !this.opts.fallbacks || cw.length === 0) return null;
      this.contextSwitched = true;
      this.chain = cw;
      const t = this.enter(0, now);
      return t ? this.take(t, 0) : null;
    }
    if (!f.retryable) return null;
    if (this.retriesUsed < this.opts.retries) {
      this.retriesUsed++;
      const a = this.chain[this.aliasIdx]!;
      const other = pick(a.strategy, a.candidates, this.triedSet(), now, this.random);
      if (other) return this.take(targetOf(other, a.name), 0);
      // Every deployment of the alias has been tried: the same one again, after a wait — unless
      // it hung (timed out) and a fallback alias can still answer within the deadline.
      const hung = f.errorClass === 'upstream_timeout' && this.laterAliases(now) > 0;
      if (!hung && this.last.state.health(now) !== 'cooling') {
        this.sameRetries++;
        const wait = Math.max(backoffMs(this.sameRetries, this.backoff, this.random), f.retryAfterMs ?? 0);
        if (now + wait < this.deadline) return this.take(this.last, wait);
      }
    }
    // This alias is spent: its fallbacks, at once.
    const t = this.enter(this.aliasIdx + 1, now);
    return t ? this.take(t, 0) : null;
  }

  /** Later aliases of the chain that have a deployment out of cooldown. */
  private laterAliases(now: number): number {
    let n = 0;
    for (let i = this.aliasIdx + 1; i < this.chain.length; i++) {
      if (this.chain[i]!.candidates.some((c) => c.state.health(now) !== 'cooling')) n++;
    }
    return n;
  }

  /**
   * Distinct deployments this call could still try, the current one included: the alias's
   * untried ones (as many as retries allow) and one per later alias. Retries of the same
   * deployment are not counted: they happen only if time is left.
   */
  attemptsLeft(now: number): number {
    const a = this.chain[this.aliasIdx]!;
    const tried = this.tried;
    let untried = 0;
    for (const c of a.candidates) {
      if (c.state !== this.last.state && !tried?.has(c.state) && c.state.health(now) !== 'cooling') untried++;
    }
    return 1 + Math.min(untried, Math.max(0, this.opts.retries - this.retriesUsed)) + this.laterAliases(now);
  }

  /**
   * The time limit of the attempt on `target` starting at `now`: an explicit one (header, else
   * the deployment's or alias's attempt_timeout_ms), else the per-try `ttfbMs`, shortened to a
   * fair share of the remaining time (remaining / attempts left, at least attemptMinMs) when
   * more than one deployment can still be tried; never past the call's deadline.
   */
  limitFor(target: Target, now: number, ttfbMs: number): Required<AttemptLimits> {
    const remaining = Math.max(0, this.deadline - now);
    const explicit = this.opts.attemptMs || target.attemptMs || 0;
    let ms = explicit || ttfbMs;
    let what = explicit ? 'the attempt time limit' : 'the time-to-first-byte timeout';
    if (!explicit) {
      const left = this.attemptsLeft(now);
      const share = left > 1 ? Math.max(this.opts.attemptMinMs, remaining / left) : Infinity;
      if (share < ms) {
        ms = share;
        what = `its share of the call deadline, ${left} deployments left to try`;
      }
    }
    if (remaining <= ms) return { ttfbMs: remaining, deadlineBound: true, what: 'the call deadline' };
    return { ttfbMs: ms, deadlineBound: false, what };
  }
}

function targetOf(c: Candidate, alias: string): Target {
  return c.attemptMs === undefined ? { state: c.state, alias } : { state: c.state, alias, attemptMs: c.attemptMs };
}

/**
 * Everything in the chain is cooling down: rather than fail without trying, probe the root
 * deployment whose cooldown ends first (one provider's outage must not become ours).
 */
function lastResort(root: AliasRoute, chain: readonly AliasRoute[], now: number): Target {
  let best: Candidate = root.candidates[0]!;
  let alias = root.name;
  for (const a of chain) {
    for (const c of a.candidates) {
      if (c.state.health(now) !== 'cooling') return targetOf(c, a.name);
      if (c.state.cooldownUntil < best.state.cooldownUntil) {
        best = c;
        alias = a.name;
      }
    }
  }
  return targetOf(best, alias);
}

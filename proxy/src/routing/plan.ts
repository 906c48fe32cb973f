// The attempt plan of one call: which deployment to try first, and after each failure what
// to try next and after what delay — another deployment of the alias (at once), the same one
// again (after backoff / Retry-After), the alias's fallbacks, or the context-window fallbacks —
// all within one total deadline. Pure: the caller passes the clock reading and random source.
import { backoffMs, type Backoff } from './retry-policy.ts';
import { pick, type Candidate, type Strategy } from './strategy.ts';
import type { DeploymentState } from './deployment-state.ts';
import type { RouteOptions } from './overrides.ts';

export interface AliasRoute {
  name: string;
  strategy: Strategy;
  candidates: readonly Candidate[];
  fallbacks: readonly AliasRoute[];
  contextFallbacks: readonly AliasRoute[];
}

export interface Target {
  state: DeploymentState;
  /** The alias this deployment was chosen for. */
  alias: string;
}

export interface AttemptFailure {
  retryable: boolean;
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
        return { state: c.state, alias: a.name };
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
      if (other) return this.take({ state: other.state, alias: a.name }, 0);
      // Every deployment of the alias has been tried: the same one again, after a wait.
      if (this.last.state.health(now) !== 'cooling') {
        this.sameRetries++;
        const wait = Math.max(backoffMs(this.sameRetries, this.backoff, this.random), f.retryAfterMs ?? 0);
        if (now + wait < this.deadline) return this.take(this.last, wait);
      }
    }
    // This alias is spent: its fallbacks, at once.
    const t = this.enter(this.aliasIdx + 1, now);
    return t ? this.take(t, 0) : null;
  }
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
      if (c.state.health(now) !== 'cooling') return { state: c.state, alias: a.name };
      if (c.state.cooldownUntil < best.state.cooldownUntil) {
        best = c;
        alias = a.name;
      }
    }
  }
  return { state: best.state, alias };
}

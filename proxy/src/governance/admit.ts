// The governance gate of one call, between validation and the relay (order as in README.md):
// model allow-list → cache lookup → rate limits → budget reservation. A refusal is recorded
// as an `outcome: 'refused'` event (cost 0) and thrown as the surface's error; an admitted
// call gets `rec.onEvent`, which settles the reservations to the real tokens and cost when
// the relay builds the event, and stores a cacheable response.
// A replay (POST /admin/replay, sent with the master key) is admitted as the original call's
// key, found by the id in its replay mark: the same allow-list, rate limits and budgets.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProxyError } from '../errors.ts';
import { refusalError } from '../auth.ts';
import type { CallRecord, EventEnv } from '../capture/call-record.ts';
import { toRefusedEvent } from '../capture/call-life.ts';
import { NO_TOKENS, promptText } from '../capture/usage.ts';
import { cacheKey, cacheScope, decideCache } from '../cache/key.ts';
import { serveCacheHit, storeInCache } from '../cache/serve.ts';
import type { VirtualKey } from './keys.ts';
import { checkModel } from './key-ring.ts';
import { keyRateLimits, rateLimitHeaders, tightest, type RatePermit, type RateStates } from './rate-limit.ts';
import type { Reservation } from './budget.ts';
import { budgetScopes, worstCaseCostUsd } from './budget-scope.ts';
import { inputTokenBound, outputTokenBound } from './input-bound.ts';
import { endUserGate, USER_REQUIRED, USER_SUBJECT } from './end-user.ts';
import { BackendUnavailableError } from './backend.ts';
import type { Governance } from './runtime.ts';
import { checkTeamModel, TEAM_SUBJECT, teamLimiterId, teamRate } from './team-policy.ts';
import { refusalHeaders, STATE_UNAVAILABLE, type Refusal } from './refusal.ts';
import type { LlmCallEvent } from '@gatelog/core';
import { markPublished } from '../request-state.ts';
import { replayMark } from '../replay-mark.ts';

export interface AdmitEnv extends EventEnv {
  publish: (e: LlmCallEvent) => void;
}

/** Output tokens assumed for the worst case when the request sets no max_tokens. */
const DEFAULT_MAX_OUTPUT = 4096;

/**
 * A cheap typical estimate of input tokens (no tokenizer on the hot path): ~3 chars a token,
 * for rate limits (settled to the real count afterwards). Budgets reserve `inputTokenBound`.
 */
export function estimateInputTokens(json: Record<string, unknown>): number {
  const messages = json['messages'];
  const framing = Array.isArray(messages) ? messages.length * 4 + 3 : 0;
  return Math.ceil(promptText(json).length / 3) + framing;
}

function maxOutputOf(json: Record<string, unknown>): number | null {
  const v = json['max_completion_tokens'] ?? json['max_tokens'];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.ceil(v) : null;
}

/** Publish the refused call (cost 0, no upstream attempt). */
export function recordRefused(env: AdmitEnv, rec: CallRecord, r: Refusal): void {
  try {
    env.publish(toRefusedEvent(rec, env, { status: r.status, type: r.code, message: r.message, code: r.code }));
  } catch {
    // Recording must never change the answer; the relay's publisher logs its own failures.
  }
}

function refuse(g: Governance, env: AdmitEnv, rec: CallRecord, reply: FastifyReply, r: Refusal): ProxyError {
  void reply.headers(refusalHeaders(r));
  g.metrics.refusal(r.code);
  if (markPublished(reply.request)) recordRefused(env, rec, r);
  return refusalError(r);
}

/**
 * Why a replay cannot be admitted as the original's key (`keyId`): it is gone, revoked or
 * expired. The replay route asks before sending; admit asks again (a revocation in between).
 */
export function replayKeyRefusal(key: VirtualKey | undefined, keyId: string, now: number): Refusal | undefined {
  const refusal = (code: string, why: string): Refusal => ({ status: 403, type: 'permission_error', code, message: `The call was made with key ${keyId.slice(0, 64)}, which ${why}; a replay is admitted as the original's key, so it cannot be replayed.` });
  if (!key) return refusal('key_not_found', 'no longer exists');
  if (key.revoked) return refusal('key_revoked', 'has been revoked');
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now) return refusal('key_expired', `expired at ${key.expires_at}`);
  return undefined;
}

/** The key a call is admitted as: the caller's own, or a replay's original key (or why not). */
function admittedKey(g: Governance, req: FastifyRequest): { key?: VirtualKey; refusal?: Refusal } {
  const caller = g.auth.callerOf(req.headers);
  if (caller?.kind === 'key') return { key: caller.key };
  const keyId = replayMark.read(req.headers)?.keyId;
  if (!keyId) return {};
  const key = g.ring.byId(keyId);
  const refusal = replayKeyRefusal(key, keyId, g.now());
  return refusal ? { refusal } : { key };
}

/**
 * The key's model allow-list, checked before routing or anything else that keeps state per
 * model name (model tables, metric labels): a refused name leaves nothing behind. `record`
 * builds the refused call's record only when it is refused.
 */
export function gateModel(g: Governance, env: AdmitEnv, req: FastifyRequest, reply: FastifyReply, requested: string, record: () => CallRecord): void {
  const { key, refusal } = admittedKey(g, req);
  if (refusal) throw refuse(g, env, record(), reply, refusal);
  if (!key) return;
  const m = checkModel(key, requested);
  const t = m.ok ? checkTeamModel(g.teams, key, requested) : m;
  if (t.ok) return;
  const rec = record();
  rec.caller = { keyId: key.id, keyName: key.name, team: key.team };
  throw refuse(g, env, rec, reply, t.refusal);
}

export interface AdmitOptions {
  /** The client asked for stream_options.include_usage (a replayed stream must match). */
  includeUsage: boolean;
}

interface Held {
  permit?: RatePermit | undefined;
  userPermit?: RatePermit | undefined;
  teamPermit?: RatePermit | undefined;
  reservation?: Reservation | undefined;
}

const NOTHING_HELD: Held = {};

/**
 * Rate limits and budgets of one call: the end user's rate limits first (a user over them is
 * refused without taking anything of the key's, so one user's retries cannot starve the
 * others), then the key's, then one atomic reservation on every budget scope (key, team, end
 * user). Whatever was taken is given back when a later step refuses.
 */
async function gateLimits(g: Governance, env: AdmitEnv, reply: FastifyReply, rec: CallRecord, key: VirtualKey, json: Record<string, unknown>): Promise<Held> {
  const limits = keyRateLimits(key);
  const endUser = endUserGate(key, rec.meta.user);
  const scopes = budgetScopes(key, g.teamBudgets);
  if (endUser?.scope) scopes.push(endUser.scope);
  const keyLimited = limits.rpm !== null || limits.tpm !== null || limits.maxParallel !== null;
  const shared = teamRate(g.teams, key);
  if (scopes.length === 0 && !keyLimited && !endUser?.rate && !shared) return NOTHING_HELD;
  const now = g.now();
  const inputTokens = estimateInputTokens(json);
  const maxOutput = maxOutputOf(json);
  const held: Held = {};
  const giveBack = (): Promise<unknown> =>
    Promise.all([
      held.permit ? g.limiter.settle(held.permit, 0, now) : undefined,
      held.userPermit ? g.userLimiter.settle(held.userPermit, 0, now) : undefined,
      held.teamPermit ? g.limiter.settle(held.teamPermit, 0, now) : undefined,
    ]);
  // Where each limit the call passed stands: the answer's x-ratelimit-* headers name the tightest.
  const passed: RateStates[] = [];
  try {
    // TPM counts input + requested output; settled to the real count after the response.
    if (endUser?.rate) {
      const u = await g.userLimiter.acquire(endUser.id, endUser.rate, inputTokens + (maxOutput ?? 0), now, USER_SUBJECT);
      if (!u.ok) throw refuse(g, env, rec, reply, u.refusal);
      held.userPermit = u.permit;
      passed.push(u.states);
    }
    if (keyLimited) {
      const r = await g.limiter.acquire(key.id, limits, inputTokens + (maxOutput ?? 0), now);
      if (!r.ok) {
        await giveBack();
        throw refuse(g, env, rec, reply, r.refusal);
      }
      held.permit = r.permit;
      passed.push(r.states);
    }
    // The team's limits, shared by all its keys: after the key's, so one key over its own
    // limits does not use up the team's.
    if (shared) {
      const r = await g.limiter.acquire(teamLimiterId(key.team), shared, inputTokens + (maxOutput ?? 0), now, TEAM_SUBJECT);
      if (!r.ok) {
        await giveBack();
        throw refuse(g, env, rec, reply, r.refusal);
      }
      held.teamPermit = r.permit;
      passed.push(r.states);
    }
    for (const [h, v] of Object.entries(rateLimitHeaders(tightest(passed)))) reply.raw.setHeader(h, v);
    if (scopes.length > 0) {
      const price = (u: { input_tokens: number; output_tokens: number }): number | null =>
        env.cost(rec.provider, rec.priceProviderId, rec.deploymentModel, { ...NO_TOKENS, ...u, tokens_estimated: true });
      // An upper bound of every part of the request (tools, images, documents, n choices):
      // a reservation that under-counts lets parallel calls overspend the budget.
      const worst = worstCaseCostUsd({ inputTokens: inputTokenBound(json, rec.deploymentModel), maxTokens: outputTokenBound(json, DEFAULT_MAX_OUTPUT), defaultMaxTokens: DEFAULT_MAX_OUTPUT, price }) ?? 0;
      const b = await g.ledger.reserve(scopes, worst, now);
      if (!b.ok) {
        await giveBack();
        throw refuse(g, env, rec, reply, b.refusal);
      }
      held.reservation = b.value;
    }
  } catch (err) {
    if (err instanceof BackendUnavailableError) {
      await giveBack().catch(() => undefined);
      throw refuse(g, env, rec, reply, STATE_UNAVAILABLE);
    }
    throw err;
  }
  return held;
}

/**
 * Gate one call. Resolves true to forward it, false when it was answered here (cache hit);
 * throws the ProxyError to answer with when refused.
 */
export async function admit(
  g: Governance,
  env: AdmitEnv,
  req: FastifyRequest,
  reply: FastifyReply,
  rec: CallRecord,
  json: Record<string, unknown>,
  o: AdmitOptions,
): Promise<boolean> {
  const { key, refusal } = admittedKey(g, req);
  if (refusal) throw refuse(g, env, rec, reply, refusal);
  if (key) {
    rec.caller = { keyId: key.id, keyName: key.name, team: key.team };
    const m = checkModel(key, rec.requestedModel);
    if (!m.ok) throw refuse(g, env, rec, reply, m.refusal);
    const t = checkTeamModel(g.teams, key, rec.requestedModel);
    if (!t.ok) throw refuse(g, env, rec, reply, t.refusal);
    // Before the cache: a call naming no end user is refused even when its answer is cached.
    if (key.require_user && rec.meta.user === '') throw refuse(g, env, rec, reply, USER_REQUIRED);
  }

  let storeKey: string | undefined;
  if (rec.api === 'openai.chat') {
    const d = decideCache({ headers: req.headers, aliasEnabled: g.cacheAliases.has(rec.requestedModel), body: json, allowSampling: g.allowSampling });
    if (!d.ok) throw refusalError(d.refusal);
    if (d.value.mode !== 'off') {
      const k = cacheKey({ endpoint: rec.endpoint, alias: rec.requestedModel, body: json, scope: cacheScope(g.cacheScope, key) });
      if (d.value.lookup) {
        const hit = g.cache.get(k, g.now());
        if (hit) {
          g.metrics.cache('hit');
          serveCacheHit(env, reply, rec, hit, { stream: rec.stream, includeUsage: o.includeUsage });
          return false;
        }
      }
      g.metrics.cache('miss');
      reply.raw.setHeader('x-gatelog-cache', 'miss');
      if (d.value.store) storeKey = k;
    }
  }

  const gated = key ? await gateLimits(g, env, reply, rec, key, json) : NOTHING_HELD;
  const { permit, userPermit, teamPermit, reservation } = gated;
  if (permit || userPermit || teamPermit || reservation || storeKey !== undefined) {
    let settled = false;
    // Bound to a const first: V8 allocates a function literal assigned straight to a property
    // in the old generation, which would keep this call's context (rec, the reply) through
    // every scavenge until the next mark-compact (see BENCHMARKS.md, "Sixth round").
    const onEvent: NonNullable<CallRecord['onEvent']> = (e) => {
      if (settled) return;
      settled = true;
      const t = g.now();
      const fail = (err: unknown): void => g.logger.warn({ err, request_id: rec.requestId, code: 'GATELOG_ERR_SETTLE' }, 'could not settle a reservation');
      if (permit) g.limiter.settle(permit, e ? e.input_tokens + e.output_tokens : 0, t).catch(fail);
      if (userPermit) g.userLimiter.settle(userPermit, e ? e.input_tokens + e.output_tokens : 0, t).catch(fail);
      if (teamPermit) g.limiter.settle(teamPermit, e ? e.input_tokens + e.output_tokens : 0, t).catch(fail);
      // The call's id (not the event, which holds the bodies) keeps its cost counted until stored.
      if (reservation) g.ledger.settle(reservation, e?.cost_usd ?? 0, t, e ? { requestId: e.request_id, startedAt: e.started_at } : undefined).catch(fail);
      if (storeKey !== undefined && e && storeInCache(g.cache, storeKey, rec, e, t)) g.metrics.cache('store');
    };
    rec.onEvent = onEvent;
  }
  return true;
}

// Governance as the proxy runs it: the key ring (reloaded from the store every
// keys.refresh_ms), the budget ledger (baselines reloaded from ClickHouse), the rate limiter,
// the response cache, and the counters they share (in memory, or Redis with a fallback).
// buildProxy creates one per proxy and stops it on close; the request path is in admit.ts.
import { errorFields, type GatelogConfig, type Logger, type Store } from '@gatelog/core';
import { listKeys, spendByScope } from '@gatelog/core/store/keys';
import { storedRequestIds } from '@gatelog/core/store/spend-coverage';
import type { VirtualKey } from './keys.ts';
import { KeyRing, startKeyRefresh, type KeyLoadResult } from './key-ring.ts';
import { BudgetLedger, loadBaselines } from './budget.ts';
import { budgetScopes, type TeamBudget } from './budget-scope.ts';
import { RateLimiter } from './rate-limit.ts';
import { teamPolicies, type TeamPolicies } from './team-policy.ts';
import { loadUserBaselines, MAX_USER_RATE_KEYS } from './end-user.ts';
import { userSpendByKey } from '@gatelog/core/store/user-spend';
import { MemoryBackend, withFallback, type CounterBackend } from './backend.ts';
import { RedisBackend, RedisKeyChanges } from './redis-backend.ts';
import { describeRedis } from '@gatelog/core/redis';
import type { GovernanceMetrics } from './metrics.ts';
import { ResponseCache } from '../cache/response-cache.ts';
import { startErasureWatch } from '../cache/erasure-watch.ts';
import { createCallerAuth, type CallerAuth } from '../auth.ts';

export interface GovernanceDeps {
  config: GatelogConfig;
  store: Store | undefined;
  masterKey: string | undefined;
  logger: Logger;
  metrics: GovernanceMetrics;
  /** A shared counter backend; absent = Redis from config.state.redis, else in-memory counters. */
  shared?: CounterBackend | undefined;
  now?: () => number;
  /** Budget baselines reload interval (default 5 s). */
  baselineMs?: number;
  /** How long start-up waits for the first key load before listening without it (default 5 s). */
  firstLoadMs?: number;
  /** This process's data dir: the erasure watch scrubs calls erased through another proxy there. */
  dataDir?: string | undefined;
}

export interface Governance {
  ring: KeyRing;
  auth: CallerAuth;
  ledger: BudgetLedger;
  limiter: RateLimiter;
  /** End users' rate limits (end-user.ts), on counters of their own. */
  userLimiter: RateLimiter;
  backend: CounterBackend;
  cache: ResponseCache;
  cacheAliases: ReadonlySet<string>;
  cacheScope: GatelogConfig['cache']['scope'];
  allowSampling: boolean;
  teamBudgets: ReadonlyMap<string, TeamBudget>;
  /** `teams:` of the config: each team's model allow-list and shared rate limits (team-policy.ts). */
  teams: TeamPolicies;
  metrics: GovernanceMetrics;
  logger: Logger;
  now: () => number;
  /** Reload keys now (after an admin write, so this proxy applies it at once). */
  reloadKeys(): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_BASELINE_MS = 5000;
const DEFAULT_FIRST_LOAD_MS = 5000;
/**
 * A proxy's lease on its shared budget costs, in refresh intervals (renewed every interval): a
 * proxy silent for this long is taken for gone and its costs are taken over by the others.
 */
const LEASE_REFRESHES = 3;
/** Failures are logged at most this often (the metric counts every one). */
const LOG_EVERY_MS = 10_000;

function throttledWarn(logger: Logger, now: () => number): (obj: object, msg: string) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (obj, msg) => {
    if (now() - last < LOG_EVERY_MS) {
      suppressed++;
      return;
    }
    logger.warn({ ...obj, suppressed }, msg);
    last = now();
    suppressed = 0;
  };
}

export async function createGovernance(d: GovernanceDeps): Promise<Governance> {
  const now = d.now ?? Date.now;
  const { config, store, logger, metrics } = d;
  const ring = new KeyRing();
  const local = new MemoryBackend();
  const stateWarn = throttledWarn(logger, now);
  let shared = d.shared;
  if (!shared && config.state.redis) {
    const redis = new RedisBackend({ target: config.state.redis });
    // Never log the URL (it may hold a password): only the kind of Redis.
    const redisKind = describeRedis(config.state.redis);
    if (await redis.ready(3000)) logger.info({ on_failure: config.state.on_failure, redis: redisKind }, 'shared state: connected to Redis');
    else logger.warn({ on_failure: config.state.on_failure, redis: redisKind, code: 'GATELOG_ERR_STATE_UNAVAILABLE' }, 'shared state: Redis not reachable yet; retrying in the background');
    shared = redis;
  }
  const sharedOr = (fallback: CounterBackend): CounterBackend =>
    shared
      ? withFallback(shared, fallback, {
          policy: config.state.on_failure,
          cooldownMs: 1000,
          now,
          onFailure: (err, op) => {
            metrics.stateFailure(op);
            stateWarn(
              { err: errorFields(err), op, policy: config.state.on_failure, code: 'GATELOG_ERR_STATE_UNAVAILABLE' },
              config.state.on_failure === 'open'
                ? 'shared state backend unavailable: limits and budgets now hold per proxy only (fail-open)'
                : 'shared state backend unavailable: refusing limited requests (fail-closed)',
            );
          },
        })
      : fallback;
  const backend = sharedOr(local);
  // End users' rate states are keyed by what callers choose: their local counters have a cap of
  // their own (least recently used go first), apart from the keys' counters, which it never touches.
  const userBackend = sharedOr(new MemoryBackend({ maxRateKeys: MAX_USER_RATE_KEYS }));
  const baselineMs = d.baselineMs ?? DEFAULT_BASELINE_MS;
  // Shared counters give a stored call's cost back only once every proxy has read spend since
  // (two refresh intervals: each proxy reloads once per interval plus its query time).
  const ledger = new BudgetLedger({ backend, sharedGraceMs: 2 * baselineMs, leaseMs: LEASE_REFRESHES * baselineMs });
  // With shared counters, the lease on this proxy's costs is renewed on a timer of its own (a
  // slow store must not let it run out), which also takes over the costs of proxies gone.
  const leaseWarn = throttledWarn(logger, now);
  let renewing: Promise<void> | undefined;
  const renewLease = (): Promise<void> =>
    (renewing ??= ledger
      .renewLease()
      .then((n) => {
        if (n > 0) logger.info({ costs: n }, 'budgets: took over the costs a stopped or lost proxy was waiting to see stored');
      })
      .catch((err: unknown) => leaseWarn({ err: errorFields(err), code: 'GATELOG_ERR_BUDGET_LEASE' }, 'budgets: could not renew the lease on this proxy\'s shared costs'))
      .finally(() => (renewing = undefined)));
  const limiter = new RateLimiter({ backend });
  const userLimiter = new RateLimiter({ backend: userBackend, prefix: 'gl:rl:user' });
  const teamBudgets = new Map<string, TeamBudget>(Object.entries(config.teams).flatMap(([name, t]) => (t.budget_usd === undefined ? [] : [[name, { budget_usd: t.budget_usd, period: t.period }]])));
  const cacheAliases = new Set([...config.cache.enabled_aliases, ...config.models.filter((m) => m.cache).map((m) => m.name)]);

  let keys: readonly VirtualKey[] = [];
  let loadedOnce = false;
  const refreshWarn = throttledWarn(logger, now);
  const onKeys = (r: KeyLoadResult): void => {
    if (r.ok) {
      if (!loadedOnce) logger.info({ keys: r.size }, 'virtual keys loaded');
      loadedOnce = true;
      return;
    }
    metrics.keyRefreshFailure();
    refreshWarn(
      { err: r.error, code: 'GATELOG_ERR_KEY_REFRESH' },
      loadedOnce ? 'could not reload virtual keys; keeping the last good set' : 'could not load virtual keys; refusing them with 503 until the store answers (the master key works)',
    );
  };

  // A settled cost stays counted locally until the store holds its call, however long the bus
  // takes (budget.ts): the store is asked which of this proxy's settled calls it holds first,
  // then spend is read, so that read includes each of them and none is counted twice for longer
  // than one refresh (or, on shared counters, the grace above).
  const reloadBaselines = async (): Promise<void> => {
    if (!store) {
      await ledger.replaceBaselines([], { stored: new Set(), now: now() });
      return;
    }
    const t = now();
    const scopes = keys.flatMap((k) => budgetScopes(k, teamBudgets));
    const awaited = ledger.awaitingStore();
    const stored = awaited.length > 0 ? await storedRequestIds(store, awaited) : new Set<string>();
    const rows = await loadBaselines(scopes, t, (q) => spendByScope(store, q));
    const userRows = await loadUserBaselines(keys, t, (q) => userSpendByKey(store, q));
    await ledger.replaceBaselines([...rows, ...userRows], { stored, now: now() });
    if (ledger.givenUpUnseen > givenUpWarned) {
      givenUpWarned = ledger.givenUpUnseen;
      capWarn({ code: 'GATELOG_WARN_BUDGET_PENDING_CAP', given_up: givenUpWarned }, 'budgets: too many settled costs waiting for ClickHouse (is ingest far behind?); the oldest were given back before their calls were stored, so spend may read low until it catches up');
    }
  };
  let givenUpWarned = 0;
  const capWarn = throttledWarn(logger, now);
  const baselineWarn = throttledWarn(logger, now);
  const safeBaselines = (): Promise<void> =>
    reloadBaselines().catch((err: unknown) => baselineWarn({ err, code: 'GATELOG_ERR_BUDGET_REFRESH' }, 'could not reload budget spend; using the last one'));

  // The ring only becomes usable together with its budget baselines: a key admitted against a
  // missing baseline would spend as if nothing had been spent yet.
  const loadOnce = async (): Promise<readonly VirtualKey[]> => {
    const next = store ? await listKeys(store) : [];
    keys = next;
    if (!ledger.ready) {
      await reloadBaselines();
      // The first lease before any key can spend: until then no other proxy would take this one's costs over.
      if (shared) await renewLease();
    }
    return next;
  };
  // One load at a time (the refresh loop, a change notice and an admin write may all ask): the
  // ring is replaced in the order the reads were made, so an older read never wins.
  let loading: Promise<unknown> = Promise.resolve();
  const load = (): Promise<readonly VirtualKey[]> => {
    const next = loading.then(loadOnce, loadOnce);
    loading = next.catch(() => undefined);
    return next;
  };
  // With Redis, a proxy that writes a key tells the others at once (polling stays the guarantee).
  const changes = config.state.redis && store
    ? new RedisKeyChanges(config.state.redis, () => void ring.refresh(load, now).then(onKeys))
    : undefined;

  // The store may be down at start (a ClickHouse server restarting): the proxy listens anyway,
  // serving the master key and refusing virtual keys with 503 until the first load succeeds;
  // the refresh loop keeps trying every keys.refresh_ms.
  let stopped = false;
  let stopKeys: () => void = () => undefined;
  const firstLoad = ring.refresh(load, now).then((r) => {
    onKeys(r);
    if (!stopped) stopKeys = startKeyRefresh(ring, { load, intervalMs: config.keys.refresh_ms, now, onResult: onKeys });
  });
  let waited: NodeJS.Timeout | undefined;
  await Promise.race([firstLoad, new Promise<void>((r) => (waited = setTimeout(r, d.firstLoadMs ?? DEFAULT_FIRST_LOAD_MS)))]);
  clearTimeout(waited);
  let leaseTimer: NodeJS.Timeout | undefined;
  const scheduleLease = (): void => {
    leaseTimer = setTimeout(() => {
      void renewLease().then(() => {
        if (!stopped) scheduleLease();
      });
    }, baselineMs);
    leaseTimer.unref();
  };
  if (shared) scheduleLease();
  let timer: NodeJS.Timeout | undefined;
  const scheduleBaselines = (): void => {
    timer = setTimeout(() => {
      void safeBaselines().then(() => {
        if (!stopped) scheduleBaselines();
      });
    }, baselineMs);
    timer.unref();
  };
  scheduleBaselines();

  const cache = new ResponseCache({ maxBytes: config.cache.max_bytes, ttlMs: config.cache.ttl_s * 1000 });
  // Erasures asked through another proxy (a ClickHouse server shared by several) reach this one's
  // cache and data dir: embedded, every erasure goes through this process's admin API, which
  // purges both itself.
  const erasures = store?.kind === 'http' ? startErasureWatch({ store, cache, dataDir: d.dataDir, exports: config.exports, intervalMs: config.keys.refresh_ms, logger, now }) : undefined;

  return {
    ring,
    auth: createCallerAuth(d.masterKey, ring, now),
    ledger,
    limiter,
    userLimiter,
    backend,
    cache,
    cacheAliases,
    cacheScope: config.cache.scope,
    allowSampling: config.cache.allow_sampling,
    teamBudgets,
    teams: teamPolicies(config.teams),
    metrics,
    logger,
    now,
    async reloadKeys() {
      onKeys(await ring.refresh(load, now));
      await changes?.announce();
    },
    async stop() {
      stopped = true;
      stopKeys();
      erasures?.stop();
      clearTimeout(timer);
      clearTimeout(leaseTimer);
      changes?.close();
      // A renewal still running would take the lease back after release lets it go.
      await renewing;
      await ledger.release().catch((err: unknown) => logger.warn({ err, code: 'GATELOG_ERR_BUDGET_RELEASE' }, 'budgets: could not hand over the costs still waiting for ClickHouse (another proxy takes them over when this one\'s lease runs out)'));
      await backend.close?.();
      // Not userBackend: its primary is the shared backend closed here, its local counters need no closing.
    },
  };
}

// What each rule kind measures, as observations per subject (core/src/alerts/state.ts).
// Spend, errors and latency come from the per-minute rollup (llm_calls_1m: windows are whole
// minutes, the current one included); provider failures from the calls' attempts; budgets
// from the keys page's read model and the team budgets of gatelog.yaml; ingest lag and spool
// backlog from this process's own metrics. Every value is a bound parameter.
import { z } from 'zod';
import type { Store } from '../store/client.ts';
import { readQuery } from '../store/read-query.ts';
import { Num } from '../store/row-types.ts';
import { budgetPeriodStart, listKeyViews } from '../store/key-stats.ts';
import type { TeamConfig } from '../config.ts';
import { findSpikes } from '../spikes.ts';
import type { AlertRule, AlertScope } from './rule.ts';
import type { Observation } from './state.ts';

/** A prom-client Registry, structurally (core does not depend on prom-client). */
export interface MetricSource {
  getSingleMetric(name: string): { get(): Promise<{ values: readonly { value: number }[] }> | { values: readonly { value: number }[] } } | undefined;
}

export interface SignalDeps {
  store: Store;
  teams: Readonly<Record<string, TeamConfig>>;
  metrics?: MetricSource | undefined;
  /** This process's name in subjects of process kinds (`process=<instance>`). */
  instance: string;
}

const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const MIN = 60_000;
/** Buckets of history a spend spike is judged against (as the spend chart). */
const SPIKE_HISTORY = 12;

/** The subject of a whole-scope rule: `all`, or its scope as `model=…,key=…,team=…`. */
export function scopeSubject(s: AlertScope): string {
  const parts = (['model', 'key', 'team'] as const).flatMap((k) => (s[k] ? [`${k}=${s[k]}`] : []));
  return parts.length ? parts.join(',') : 'all';
}

const SCOPE_SQL = `({model:String} = '' OR model = {model:String}) AND ({key:String} = '' OR key_id = {key:String}) AND ({team:String} = '' OR team = {team:String})`;
const scopeParams = (s: AlertScope): Record<string, string> => ({ model: s.model ?? '', key: s.key ?? '', team: s.team ?? '' });
const windowStart = (now: number, windowS: number): number => Math.floor((now - windowS * 1000) / MIN) * MIN;
const fmt = (n: number, digits = 3): string => String(Number(n.toPrecision(digits)));

async function rows<T extends z.ZodType>(store: Store, schema: T, query: string, params: Record<string, unknown>): Promise<z.infer<T>[]> {
  const rs = await readQuery(store, { query, query_params: params }, { timeoutS: 15 });
  return z.array(schema).parse(await rs.json());
}

const RateRow = z.object({ n_calls: Num, n_errors: Num, p95: Num });

async function rollupWindow(d: SignalDeps, rule: AlertRule, now: number): Promise<z.infer<typeof RateRow>> {
  const [r] = await rows(d.store, RateRow,
    `SELECT sum(calls) AS n_calls, sum(errors) AS n_errors,
            if(sum(calls) = 0, 0, arrayElement(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_q), 2)) AS p95
     FROM ${d.store.database}.llm_calls_1m
     WHERE minute >= {from:DateTime('UTC')} AND minute <= {to:DateTime('UTC')} AND ${SCOPE_SQL}`,
    { from: chTime(windowStart(now, rule.window_s)).slice(0, 19), to: chTime(now).slice(0, 19), ...scopeParams(rule.scope) });
  return r ?? { n_calls: 0, n_errors: 0, p95: 0 };
}

async function errorRate(d: SignalDeps, rule: AlertRule, now: number): Promise<Observation[]> {
  const r = await rollupWindow(d, rule, now);
  if (r.n_calls === 0) return [];
  const rate = r.n_errors / r.n_calls;
  return [{ subject: scopeSubject(rule.scope), value: rate, breached: r.n_calls >= rule.min_calls && rate >= rule.threshold, message: `${r.n_errors} of ${r.n_calls} calls failed in the last ${rule.window_s} s (${fmt(rate * 100)}%, threshold ${fmt(rule.threshold * 100)}%)` }];
}

async function p95Latency(d: SignalDeps, rule: AlertRule, now: number): Promise<Observation[]> {
  const r = await rollupWindow(d, rule, now);
  if (r.n_calls === 0) return [];
  return [{ subject: scopeSubject(rule.scope), value: r.p95, breached: r.n_calls >= rule.min_calls && r.p95 >= rule.threshold, message: `p95 latency ${fmt(r.p95)} ms over ${r.n_calls} calls in the last ${rule.window_s} s (threshold ${rule.threshold} ms)` }];
}

const CostRow = z.object({ m: Num, cost: Num });

async function spendSpike(d: SignalDeps, rule: AlertRule, now: number): Promise<Observation[]> {
  // Buckets of whole minutes ending with the current minute; the last one is the window judged.
  const step = Math.max(1, Math.round(rule.window_s / 60)) * MIN;
  const start = Math.floor(now / MIN) * MIN + MIN - (SPIKE_HISTORY + 1) * step;
  const points = await rows(d.store, CostRow,
    `SELECT toUnixTimestamp(minute) AS m, sum(cost_usd) AS cost FROM ${d.store.database}.llm_calls_1m
     WHERE minute >= {from:DateTime('UTC')} AND minute <= {to:DateTime('UTC')} AND ${SCOPE_SQL} GROUP BY m`,
    { from: chTime(start).slice(0, 19), to: chTime(now).slice(0, 19), ...scopeParams(rule.scope) });
  const costs = new Array<number>(SPIKE_HISTORY + 1).fill(0);
  for (const p of points) {
    const i = Math.floor((p.m * 1000 - start) / step);
    costs[Math.min(Math.max(i, 0), SPIKE_HISTORY)]! += p.cost;
  }
  const subject = scopeSubject(rule.scope);
  const last = costs[SPIKE_HISTORY]!;
  const spike = findSpikes(new Map([[subject, costs]]), { factor: rule.threshold, window: SPIKE_HISTORY, minUsd: rule.min_usd, minHistory: SPIKE_HISTORY }).find((s) => s.index === SPIKE_HISTORY);
  const baseline = spike?.baseline ?? 0;
  const message = spike
    ? `$${fmt(last, 4)} spent in the last ${rule.window_s} s, ${baseline > 0 ? `${fmt(last / baseline)}× the median $${fmt(baseline, 4)}` : 'from a median of $0'} of the previous ${SPIKE_HISTORY} windows`
    : `$${fmt(last, 4)} spent in the last ${rule.window_s} s`;
  return [{ subject, value: last, breached: spike !== undefined, message }];
}

const AttemptRow = z.object({ provider: z.string(), n_attempts: Num, failed: Num });

async function providerDown(d: SignalDeps, rule: AlertRule, now: number): Promise<Observation[]> {
  const rs = await rows(d.store, AttemptRow,
    `SELECT a.1 AS provider, count() AS n_attempts, countIf(a.4 != '' OR a.3 >= 500 OR a.3 = 429 OR a.3 = 0) AS failed
     FROM ${d.store.database}.llm_calls ARRAY JOIN attempts AS a
     WHERE started_at >= {from:DateTime64(3, 'UTC')} AND ({model:String} = '' OR requested_model = {model:String})
       AND ({key:String} = '' OR key_id = {key:String}) AND ({team:String} = '' OR team = {team:String})
     GROUP BY provider`,
    { from: chTime(now - rule.window_s * 1000), ...scopeParams(rule.scope) });
  return rs.filter((r) => r.provider !== '').map((r) => {
    const rate = r.failed / r.n_attempts;
    return { subject: `provider=${r.provider}`, value: rate, breached: r.n_attempts >= rule.min_calls && rate >= rule.threshold, message: `${r.failed} of ${r.n_attempts} attempts to ${r.provider} failed in the last ${rule.window_s} s (${fmt(rate * 100)}%)` };
  });
}

const TeamSpend = z.object({ cost: Num });

async function budget(d: SignalDeps, rule: AlertRule, now: number): Promise<Observation[]> {
  const out: Observation[] = [];
  const pct = (spent: number, total: number): number => (spent / total) * 100;
  const add = (subject: string, spent: number, total: number, what: string): void => {
    const p = pct(spent, total);
    out.push({ subject, value: p, breached: p >= rule.threshold, message: `${what} has spent $${fmt(spent, 4)} of its $${fmt(total, 4)} budget (${fmt(p)}%, threshold ${rule.threshold}%)` });
  };
  if (!rule.scope.model) {
    for (const k of await listKeyViews(d.store, now)) {
      if (k.revoked || k.budget_usd === null || k.budget_usd <= 0) continue;
      if (rule.scope.key && k.id !== rule.scope.key) continue;
      if (rule.scope.team && k.team !== rule.scope.team) continue;
      add(`key=${k.id}`, k.spent_usd, k.budget_usd, `Key ${k.name || k.id}`);
    }
  }
  if (rule.scope.key) return out;
  for (const [team, t] of Object.entries(d.teams)) {
    if (t.budget_usd === undefined || (rule.scope.team && team !== rule.scope.team)) continue;
    const [r] = await rows(d.store, TeamSpend,
      `SELECT sum(cost_usd) AS cost FROM ${d.store.database}.llm_calls_1m WHERE team = {team:String} AND minute >= {from:DateTime('UTC')} AND ({model:String} = '' OR model = {model:String})`,
      { team, model: rule.scope.model ?? '', from: chTime(budgetPeriodStart(t.period, now)).slice(0, 19) });
    add(`team=${team}`, r?.cost ?? 0, t.budget_usd, `Team ${team}`);
  }
  return out;
}

/** Sum of a metric's values in this process (every label), or null when it is not registered here. */
async function metricSum(src: MetricSource | undefined, names: readonly string[]): Promise<number | null> {
  let found = false;
  let sum = 0;
  for (const name of names) {
    const m = src?.getSingleMetric(name);
    if (!m) continue;
    found = true;
    for (const v of (await m.get()).values) sum += v.value;
  }
  return found ? sum : null;
}

function processSignal(names: readonly string[], what: string) {
  return async (d: SignalDeps, rule: AlertRule): Promise<Observation[]> => {
    const v = await metricSum(d.metrics, names);
    if (v === null) return [];
    return [{ subject: `process=${d.instance}`, value: v, breached: v >= rule.threshold, message: `${what}: ${fmt(v, 6)} (threshold ${rule.threshold})` }];
  };
}

export const SIGNALS: Record<AlertRule['kind'], (d: SignalDeps, rule: AlertRule, now: number) => Promise<Observation[]>> = {
  budget,
  spend_spike: spendSpike,
  error_rate: errorRate,
  p95_latency: p95Latency,
  provider_down: providerDown,
  ingest_lag: processSignal(['gatelog_ingest_lag_bytes', 'gatelog_ingest_consumer_lag'], 'ingest lag'),
  spool: processSignal(['gatelog_spool_lag_bytes'], 'Kafka spool backlog (bytes)'),
};

/** Kinds measured from this process's own metrics: every process evaluates them for itself. */
export const PROCESS_KINDS: ReadonlySet<AlertRule['kind']> = new Set(['ingest_lag', 'spool']);

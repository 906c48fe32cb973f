// The alert evaluator: every `alerts.interval_s` it reads each enabled rule's signal
// (signals.ts), steps the state machine per subject (state.ts) from the state kept in
// alert_events, records each transition there, and hands it to the rule's channels
// (deliver.ts) in the background. Where it runs: in the proxy service (and so in the embedded
// process). With several proxies on one ClickHouse server each tick's slot is claimed in
// alert_lease and only the first claimant evaluates the shared rules, so a condition fires once,
// not once per replica; ingest_lag and spool rules measure the process itself and are
// evaluated by every process for itself (subject `process=<instance>`).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';
import type { TeamConfig } from '../config.ts';
import { claimAlertSlot, insertAlertEvents, listUiRules, loadAlertStates, type AlertEventInput } from '../store/alert-queries.ts';
import { deliver, type AlertMessage } from './deliver.ts';
import type { AlertRule, AlertsConfig } from './rule.ts';
import { PROCESS_KINDS, SIGNALS, type MetricSource, type SignalDeps } from './signals.ts';
import { stepRule, type InstanceState, type Transition } from './state.ts';

export interface AlertsDeps {
  store: Store;
  config: AlertsConfig;
  teams: Readonly<Record<string, TeamConfig>>;
  logger: Logger;
  /** This process's metrics registry (ingest lag, spool backlog). */
  metrics?: MetricSource | undefined;
  /** Other processes evaluate against the same store: claim each tick (alert_lease). */
  shared: boolean;
  /** Only the rules measuring this process (ingest_lag, spool): the ingest service. */
  processOnly?: boolean;
  /** Name of this process in subjects and lease claims; default the host name. */
  instance?: string;
  now?: () => number;
  /** Counted by the host (Prometheus): each transition, and each delivery attempt's outcome. */
  onTransition?: ((kind: Transition['kind'], ruleKind: string) => void) | undefined;
  onDelivery?: ((result: 'ok' | 'retry' | 'failed') => void) | undefined;
}

export interface AlertsRunner {
  /** One evaluation now (the timer calls it; tests may too). */
  tick(): Promise<void>;
  /** Resolves when every delivery started so far has finished (retries included). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Config rules first; a UI rule with a config rule's id is ignored. */
export async function activeRules(store: Store, config: AlertsConfig): Promise<AlertRule[]> {
  const ids = new Set(config.rules.map((r) => r.id));
  const ui = (await listUiRules(store)).map((r) => r.rule).filter((r) => !ids.has(r.id));
  return [...config.rules, ...ui].filter((r) => r.enabled);
}

function message(rule: AlertRule, t: Transition, at: number): AlertMessage {
  return {
    type: t.kind === 'fired' ? 'alert.fired' : 'alert.resolved',
    incident_id: t.incidentId,
    rule: { id: rule.id, name: rule.name ?? rule.id, kind: rule.kind },
    subject: t.subject,
    value: t.value,
    threshold: rule.threshold,
    window_s: rule.window_s,
    at: new Date(at).toISOString(),
    message: t.message,
  };
}

export function startAlerts(deps: AlertsDeps): AlertsRunner {
  const clock = deps.now ?? Date.now;
  const instance = deps.instance ?? hostname();
  const holder = `${instance}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const intervalMs = Math.max(50, deps.config.interval_s * 1000);
  const signalDeps: SignalDeps = { store: deps.store, teams: deps.teams, metrics: deps.metrics, instance };
  const stopping = new AbortController();
  const deliveries = new Set<Promise<void>>();
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;

  const send = (rule: AlertRule, msg: AlertMessage, base: AlertEventInput): void => {
    for (const name of rule.channels) {
      const ch = deps.config.channels[name];
      if (!ch) continue;
      const p = deliver(ch, msg, {
        delivery: deps.config.delivery,
        signal: stopping.signal,
        now: clock,
        record: async (a) => {
          deps.onDelivery?.(!a.error ? 'ok' : a.final ? 'failed' : 'retry');
          if (a.error) deps.logger.warn({ rule: rule.id, channel: name, attempt: a.attempt, error: a.error, final: a.final, code: 'GATELOG_WARN_ALERT_DELIVERY' }, 'alert delivery failed');
          await insertAlertEvents(deps.store, [{ ...base, kind: 'delivery', at: clock(), channel: name, attempt: a.attempt, http_status: a.http_status, delivery_error: a.error, duration_ms: a.duration_ms }]);
        },
      }).then(() => undefined, (err: unknown) => deps.logger.error({ err, rule: rule.id, channel: name }, 'alert delivery could not be recorded'));
      deliveries.add(p);
      void p.finally(() => deliveries.delete(p));
    }
  };

  const evaluate = async (): Promise<void> => {
    const now = clock();
    let rules = await activeRules(deps.store, deps.config);
    const local = (r: AlertRule): boolean => PROCESS_KINDS.has(r.kind);
    if (deps.processOnly) rules = rules.filter(local);
    else if (deps.shared && rules.some((r) => !local(r)) && !(await claimAlertSlot(deps.store, Math.floor(Date.now() / intervalMs), holder))) rules = rules.filter(local);
    if (rules.length === 0) return;
    const states = await loadAlertStates(deps.store);
    const events: AlertEventInput[] = [];
    const out: { rule: AlertRule; t: Transition; ev: AlertEventInput }[] = [];
    for (const rule of rules) {
      let prior: Map<string, InstanceState> = states.get(rule.id) ?? new Map();
      if (local(rule)) prior = new Map([...prior].filter(([s]) => s === `process=${instance}`));
      try {
        const obs = await SIGNALS[rule.kind](signalDeps, rule, now);
        // A process rule whose metric this process does not have (ingest lag in a proxy service) is not measured here.
        if (local(rule) && obs.length === 0) continue;
        for (const t of stepRule(prior, obs, now, rule.cooldown_s * 1000, randomUUID).transitions) {
          const ev: AlertEventInput = { at: now, rule_id: rule.id, rule_name: rule.name ?? rule.id, rule_kind: rule.kind, subject: t.subject, kind: t.kind, incident_id: t.incidentId, value: t.value, threshold: rule.threshold, message: t.message };
          events.push(ev);
          out.push({ rule, t, ev });
        }
      } catch (err) {
        deps.logger.warn({ rule: rule.id, err: { name: (err as Error).name, code: (err as { code?: unknown }).code }, code: 'GATELOG_WARN_ALERT_EVAL' }, 'alert rule could not be evaluated');
      }
    }
    // Recorded before anything is sent: the next tick (here or on another proxy) sees the new state.
    await insertAlertEvents(deps.store, events);
    for (const { rule, t, ev } of out) {
      deps.logger.info({ rule: rule.id, subject: t.subject, transition: t.kind, incident: t.incidentId }, `alert ${t.kind}`);
      deps.onTransition?.(t.kind, rule.kind);
      send(rule, message(rule, t, now), ev);
    }
  };

  const timed = async (): Promise<void> => {
    const t0 = Date.now();
    await evaluate();
    // Two proxies evaluate at once only if one evaluation outlasts a slot: say so.
    if (Date.now() - t0 > intervalMs) deps.logger.warn({ ms: Date.now() - t0, interval_ms: intervalMs, code: 'GATELOG_WARN_ALERT_SLOW' }, 'alert evaluation took longer than alerts.interval_s');
  };

  const tick = (): Promise<void> => {
    // One evaluation at a time: a slow one makes the next tick wait rather than overlap.
    running ??= timed()
      .catch((err: unknown) => deps.logger.warn({ err: { name: (err as Error).name, code: (err as { code?: unknown }).code }, code: 'GATELOG_WARN_ALERT_TICK' }, 'alert evaluation failed'))
      .finally(() => { running = null; });
    return running;
  };

  // Ticks start at slot boundaries (real time), so every proxy claims a slot at its start.
  const loop = (): void => {
    timer = setTimeout(() => void tick().finally(() => { if (!stopping.signal.aborted) loop(); }), intervalMs - (Date.now() % intervalMs));
    timer.unref();
  };
  loop();

  return {
    tick,
    idle: async () => {
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
    },
    stop: async () => {
      stopping.abort();
      clearTimeout(timer);
      await running;
      await Promise.allSettled([...deliveries]);
    },
  };
}

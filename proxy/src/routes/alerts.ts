// Admin API for alerts (owner and admin roles: `settings.write`, the admin guard's default):
//   GET    /admin/alerts/rules        config and UI rules, channels (URLs masked), what is firing
//   POST   /admin/alerts/rules        create a UI rule (id optional: `ui-…` is given)
//   PATCH  /admin/alerts/rules/:id    change a UI rule (e.g. {"enabled": false}); config rules are read-only
//   DELETE /admin/alerts/rules/:id    delete a UI rule
//   GET    /admin/alerts/events       history: transitions and delivery attempts (?rule, ?kind, ?limit)
// Every write is audited. No response carries a webhook URL or signing secret.
// A team-scoped caller sees only the rules and events of their teams and changes only rules
// wholly inside them; global rules are the unscoped admins' (core/src/alerts/visibility.ts).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { appendAudit, formatZodError, type GatelogConfig, type Store } from '@gatelog/core';
import { AlertRule, RULE_ID, maskUrl } from '@gatelog/core/alerts/rule';
import { eventVisible, keyTeams, mayEditRule, ruleVisible, type KeyTeams } from '@gatelog/core/alerts/visibility';
import { listAlertEvents, listUiRules, loadAlertStates, uiRuleById, writeUiRule } from '@gatelog/core/store/alert-queries';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminActor, adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface AlertRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  config: GatelogConfig;
}

const notFound = (): ProxyError => new ProxyError(404, 'alert_rule_not_found', 'No alert rule made in the UI has this id.', 'not_found_error', 'id');

function idParam(req: FastifyRequest): string {
  const id = (req.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !RULE_ID.test(id)) throw badRequest('invalid_rule_id', 'The rule id is malformed.', 'id');
  return id;
}

const outOfScope = (): ProxyError => new ProxyError(403, 'team_out_of_scope', 'A team-scoped caller changes alert rules of its own teams only; rules naming no team are for unscoped admins.', 'permission_error', 'scope');

const Query = z.object({
  rule: z.string().regex(RULE_ID).optional(),
  kind: z.enum(['fired', 'resolved', 'delivery']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

export function alertRoutes(deps: AlertRouteDeps) {
  const { store, gov, config } = deps;
  const channels = config.alerts.channels;
  const configIds = new Set(config.alerts.rules.map((r) => r.id));

  const parseRule = (input: unknown): AlertRule => {
    const r = AlertRule.safeParse(input);
    if (!r.success) throw badRequest('invalid_alert_rule', formatZodError('rule', r.error));
    const unknown = r.data.channels.filter((c) => !(c in channels));
    if (unknown.length) throw badRequest('unknown_channel', `Unknown channel(s) ${unknown.join(', ')}; channels are configured in gatelog.yaml (alerts.channels): ${Object.keys(channels).join(', ') || 'none'}.`, 'channels');
    return r.data;
  };

  /** Key teams, read only for a scoped caller (an unscoped one sees everything). */
  const teamsOfKeys = async (req: FastifyRequest): Promise<KeyTeams> => (principalOf(req).teams.length ? keyTeams(store) : new Map());
  const allRules = async (): Promise<Map<string, AlertRule>> =>
    new Map([...(await listUiRules(store)).map((r) => [r.rule.id, r.rule] as const), ...config.alerts.rules.map((r) => [r.id, r] as const)]);

  const save = async (req: FastifyRequest, action: string, rule: AlertRule, version: number, deleted = false): Promise<void> => {
    await writeUiRule(store, rule, { version, at: gov.now(), by: adminActor(req), deleted });
    await appendAudit(store, { ...auditWho(req), at: new Date(gov.now()), action, targetType: 'alert_rule', target: rule.id, details: { rule } });
  };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(gov, store));

    app.get('/alerts/rules', { config: { query: [] } }, async (req) => {
      const p = principalOf(req);
      const [ui, states, keys] = await Promise.all([listUiRules(store), loadAlertStates(store), teamsOfKeys(req)]);
      const firing = (rule: AlertRule): string[] => [...(states.get(rule.id) ?? new Map<string, { phase: string }>())]
        .filter(([subject, s]) => s.phase === 'firing' && eventVisible(p, { subject }, rule, keys)).map(([subject]) => subject);
      const data = [
        ...config.alerts.rules.map((rule) => ({ rule, source: 'config' as const, firing: firing(rule) })),
        ...ui.filter((r) => !configIds.has(r.rule.id)).map((r) => ({ rule: r.rule, source: 'ui' as const, version: r.version, updated_at: r.updated_at, updated_by: r.updated_by, firing: firing(r.rule) })),
      ].filter((r) => ruleVisible(p, r.rule, keys));
      return { object: 'list', data, channels: Object.entries(channels).map(([name, c]) => ({ name, kind: c.kind, url: maskUrl(c.url) })), interval_s: config.alerts.interval_s };
    });

    app.post('/alerts/rules', async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid_alert_rule', 'The body must be a JSON object.');
      const rule = parseRule({ ...body, id: body['id'] ?? `ui-${randomUUID().slice(0, 8)}` });
      if (!mayEditRule(principalOf(req), rule, await teamsOfKeys(req))) throw outOfScope();
      if (configIds.has(rule.id) || (await uiRuleById(store, rule.id))) throw new ProxyError(409, 'alert_rule_exists', `A rule with id "${rule.id}" exists.`, 'invalid_request_error', 'id');
      await save(req, 'alert_rule.create', rule, 1);
      return reply.code(201).send({ rule, source: 'ui' });
    });

    app.patch('/alerts/rules/:id', async (req) => {
      const id = idParam(req);
      if (configIds.has(id)) throw new ProxyError(409, 'config_rule', 'This rule comes from gatelog.yaml; change it there.', 'invalid_request_error', 'id');
      const cur = await uiRuleById(store, id);
      if (!cur) throw notFound();
      const body = req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid_alert_rule', 'The body must be a JSON object.');
      const rule = parseRule({ ...cur.rule, ...(body as object), id });
      const keys = await teamsOfKeys(req);
      if (!mayEditRule(principalOf(req), cur.rule, keys) || !mayEditRule(principalOf(req), rule, keys)) throw outOfScope();
      await save(req, 'alert_rule.update', rule, cur.version + 1);
      return { rule, source: 'ui' };
    });

    app.delete('/alerts/rules/:id', async (req) => {
      const id = idParam(req);
      if (configIds.has(id)) throw new ProxyError(409, 'config_rule', 'This rule comes from gatelog.yaml; remove it there.', 'invalid_request_error', 'id');
      const cur = await uiRuleById(store, id);
      if (!cur) throw notFound();
      if (!mayEditRule(principalOf(req), cur.rule, await teamsOfKeys(req))) throw outOfScope();
      await save(req, 'alert_rule.delete', cur.rule, cur.version + 1, true);
      return { deleted: true, id };
    });

    app.get('/alerts/events', { config: { query: ['rule', 'kind', 'limit'] } }, async (req) => {
      const q = Query.safeParse(req.query ?? {});
      if (!q.success) throw badRequest('invalid_query', formatZodError('query', q.error));
      const p = principalOf(req);
      if (p.teams.length === 0) return { object: 'list', data: await listAlertEvents(store, q.data) };
      // A scoped caller's page is the newest of their teams' events among the latest 1,000.
      const [events, rules, keys] = await Promise.all([listAlertEvents(store, { ...q.data, limit: 1000 }), allRules(), keyTeams(store)]);
      return { object: 'list', data: events.filter((e) => eventVisible(p, e, rules.get(e.rule_id), keys)).slice(0, q.data.limit) };
    });
    done();
  };
}

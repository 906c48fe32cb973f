// Admin API: virtual keys and the audit log. A team-scoped caller (a machine token with teams)
// works within its teams: keys of other teams do not exist for it, a key it writes stays in its
// teams (core key-scope.ts, the rule the UI's Keys page applies too), a key's models stay within
// its team's `models` list (400 models_outside_team), and the audit log shows it
// the rows about its teams (core audit-queries.ts `teams`).
//   POST   /admin/keys          create (the secret is in this response only)
//   GET    /admin/keys          list (latest version of every key; ?include_revoked=false)
//   GET    /admin/keys/:id      one key, with its budget status
//   GET    /admin/keys/:id/users  its top end users by spend this period (?limit, 1–1000, default 50)
//   PATCH  /admin/keys/:id      update (a new version)
//   DELETE /admin/keys/:id      revoke (a new version with revoked: true)
//   POST   /admin/keys/:id/rotate  a new secret for the key ({grace: "24h"}: the old one works until then)
//   GET    /admin/audit         newest first (?limit, ?action, ?actor, ?from, ?to, ?export_id, ?before_at&before_id)
// Every write is recorded in the audit trail (appendAudit: who, role, when, what, target,
// details without secrets, source ip, user agent) and reloads this proxy's key ring at once; other proxies pick it up on refresh.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, insertKeyVersion, keyById, listAudit, listKeys, type Store } from '@gatelog/core';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminActor, adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import { inScope } from '@gatelog/core/roles';
import { keyWriteRefusal } from '@gatelog/core/key-scope';
import { auditQuery } from './audit.ts';
import { createKey, publicKeyView, rotateKey, updateKey, type VirtualKey } from '../governance/keys.ts';
import { budgetScopes } from '../governance/budget-scope.ts';
import { endUserSpend } from '../governance/end-user-spend.ts';
import type { Governance } from '../governance/runtime.ts';
import { keyModelsRefusal } from '../governance/team-policy.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface AdminRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
}

const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function keyIdParam(req: FastifyRequest): string {
  const id = (req.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw badRequest('invalid_key_id', 'The key id is malformed.', 'id');
  return id;
}

/** Throws the refusal of core's key scope rule (404 for a key outside the caller's teams, 403 for a team outside them). */
function checkKeyScope(req: FastifyRequest, from: string | null, to: string): void {
  const r = keyWriteRefusal(principalOf(req), from, to);
  if (r) throw new ProxyError(r.status, r.code, r.message, r.status === 404 ? 'not_found_error' : 'permission_error', r.param);
}

/** A key naming models its team's list refuses: 400 naming them (team-policy.ts's matcher, the per-call one). */
function checkTeamModels(gov: Governance, key: VirtualKey): void {
  const why = keyModelsRefusal(gov.teams, key);
  if (why) throw badRequest('models_outside_team', why, 'models');
}

export function adminRoutes(deps: AdminRouteDeps) {
  const { store, gov } = deps;

  const audit = async (req: FastifyRequest, action: string, target: string, details: Record<string, unknown>): Promise<void> => {
    await appendAudit(store, { ...auditWho(req), at: new Date(gov.now()), action, targetType: 'key', target, details });
  };

  // A key outside a team-scoped caller's teams does not exist for it.
  const current = async (id: string, req: FastifyRequest): Promise<VirtualKey> => {
    const k = await keyById(store, id);
    if (!k) throw new ProxyError(404, 'key_not_found', 'No virtual key with this id.', 'not_found_error', 'id');
    checkKeyScope(req, k.team, k.team);
    return k;
  };

  const write = async (req: FastifyRequest, action: string, next: VirtualKey, details: Record<string, unknown>): Promise<void> => {
    await insertKeyVersion(store, next);
    await audit(req, action, next.id, details);
    await gov.reloadKeys();
  };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(gov, store));

    app.post('/keys', async (req, reply: FastifyReply) => {
      const r = createKey(req.body ?? {}, { now: gov.now(), actor: adminActor(req) });
      if (!r.ok) throw badRequest('invalid_key_fields', r.message);
      const { key, secret } = r.value;
      checkKeyScope(req, null, key.team);
      checkTeamModels(gov, key);
      await write(req, 'key.create', key, { key: publicKeyView(key) });
      return reply.code(201).send({ key: publicKeyView(key), secret });
    });

    app.get('/keys', { config: { query: ['include_revoked', 'team'] } }, async (req) => {
      const q = req.query as { include_revoked?: string; team?: string };
      if (q.include_revoked !== undefined && q.include_revoked !== 'true' && q.include_revoked !== 'false') throw badRequest('invalid_query_parameter', 'include_revoked: expected true or false.', 'include_revoked');
      const keys = await listKeys(store, { includeRevoked: q.include_revoked !== 'false' });
      // A team-scoped caller lists its teams' keys only; `team` narrows to one team.
      const p = principalOf(req);
      return { object: 'list', data: keys.filter((k) => inScope(p, k.team) && (q.team === undefined || k.team === q.team)).map(publicKeyView) };
    });

    app.get('/keys/:id', { config: { query: [] } }, async (req) => {
      const key = await current(keyIdParam(req), req);
      const now = gov.now();
      const budgets = await Promise.all(
        budgetScopes(key, gov.teamBudgets).map(async (s) => {
          const st = await gov.ledger.status(s, now);
          return { scope: s.kind, id: s.id, budget_usd: s.budgetUsd, period: s.period, spent_usd: st.spentUsd, remaining_usd: st.remainingUsd, resets_at: st.resetsAt === null ? null : new Date(st.resetsAt).toISOString() };
        }),
      );
      return { key: publicKeyView(key), budgets };
    });

    // The key's own budget state above never lists its end users (there may be millions): this
    // does, biggest spenders first, with what each has left of the per-user budget.
    app.get('/keys/:id/users', { config: { query: ['limit'] } }, async (req) => {
      const key = await current(keyIdParam(req), req);
      const raw = (req.query as { limit?: string }).limit;
      const limit = raw === undefined ? 50 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('invalid_limit', 'limit: expected an integer from 1 to 1000.', 'limit');
      return { object: 'list', key_id: key.id, ...(await endUserSpend(store, gov, key, limit)) };
    });

    app.patch('/keys/:id', async (req) => {
      const cur = await current(keyIdParam(req), req);
      const r = updateKey(cur, req.body ?? {}, { now: gov.now(), actor: adminActor(req) });
      if (!r.ok) throw badRequest('invalid_key_fields', r.message);
      // A new team must be one of the caller's too: a key moved out would spend another team's budget.
      checkKeyScope(req, cur.team, r.value.team);
      // Only when the models or the team change: a key made before its team's list narrowed can
      // still be updated otherwise (and revoked), its calls refused per call as before.
      if (r.value.team !== cur.team || r.value.models.join('\n') !== cur.models.join('\n')) checkTeamModels(gov, r.value);
      // The input schema has no secret fields; the changes are recorded as sent.
      await write(req, r.value.revoked && !cur.revoked ? 'key.revoke' : 'key.update', r.value, { changes: req.body, version: r.value.version });
      return { key: publicKeyView(r.value) };
    });

    app.delete('/keys/:id', async (req) => {
      const cur = await current(keyIdParam(req), req);
      if (cur.revoked) return { key: publicKeyView(cur) };
      const r = updateKey(cur, { revoked: true }, { now: gov.now(), actor: adminActor(req) });
      if (!r.ok) throw badRequest('invalid_key_fields', r.message);
      await write(req, 'key.revoke', r.value, { version: r.value.version, key_prefix: cur.key_prefix });
      return { key: publicKeyView(r.value) };
    });

    // The key stays what it is (id, team, limits, budget, spend so far); only its secret changes.
    app.post('/keys/:id/rotate', async (req, reply: FastifyReply) => {
      const cur = await current(keyIdParam(req), req);
      if (cur.revoked) throw new ProxyError(409, 'key_revoked', 'A revoked key cannot be rotated; create a new one.', 'invalid_request_error', 'id');
      const r = rotateKey(cur, req.body ?? {}, { now: gov.now(), actor: adminActor(req) });
      if (!r.ok) throw badRequest('invalid_rotation', r.message, 'grace');
      const { key, secret } = r.value;
      await write(req, 'key.rotate', key, { version: key.version, replaced: cur.key_prefix, key_prefix: key.key_prefix, previous_valid_until: key.previous_valid_until });
      return reply.code(201).send({ key: publicKeyView(key), secret });
    });

    app.get('/audit', { config: { query: ['actor', 'action', 'export_id', 'from', 'to', 'limit', 'before_at', 'before_id'] } }, async (req) => {
      const { teams } = principalOf(req);
      const rows = await listAudit(store, { ...auditQuery(req.query as Record<string, string | undefined>), ...(teams.length ? { teams } : {}) });
      return { object: 'list', data: rows };
    });
    done();
  };
}

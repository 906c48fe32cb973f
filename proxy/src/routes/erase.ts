// Admin API for erasure and legal holds (the master key, or a token allowed settings.write):
//   POST   /admin/erase        {user|key|trace|before, teams?, rows?} → a receipt (rows, bytes, held, feedback, files, cache_entries, upstream_files, ms, teams)
//   GET    /admin/holds        active and lifted holds
//   POST   /admin/holds        {kind: key|team|user|trace|audit, value, reason, teams?} → the hold
//   DELETE /admin/holds/:id    lift it
// Every erasure and every hold change is written to the audit log with the receipt or the hold.
// An `audit` hold keeps the audit trail, not calls (core/src/store/audit-holds.ts): its value is
// `*` or a person's email, and it names no teams.
//
// Team scope: a team-scoped caller reaches its teams' calls only. Its erasure, and its hold of a
// key, user or trace, is narrowed to its teams (or to the `teams` it names, each of them its
// own); it places team holds of its own teams and sees the holds whose teams (holdTeams: a
// team hold's team, else the teams it is limited to, none = every team) are all its own, but
// lifts none: that is for unscoped callers. The audit trail is not divided by team, so its holds
// are for unscoped callers only (placed, listed, lifted). Anything else is 403 team_out_of_scope.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { appendAudit, AUDIT_HOLD, auditHoldValue, EraseRequest, eraseCalls, HOLD_KINDS, holdTeams, isCallHold, listHolds, markHolds, TeamScope, writeHold, type LegalHold, type Logger, type ScheduledExportConfig, type Store } from '@gatelog/core';
import { coversTeams, inScope, type Principal } from '@gatelog/core/roles';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminActor, adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { UpstreamFilesReceipt, UpstreamPurge } from '../batches/purge.ts';

export interface EraseRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  /** Where this process keeps its event log, spool and dead letters (scrubbed too). */
  dataDir?: string | undefined;
  /** Deletes the batch files an erasure covers at their provider (batches/purge.ts). */
  upstreamFiles: UpstreamPurge;
  logger: Logger;
  /** This process's scheduled exports: their files are rewritten too (export-erasure.ts). */
  exports?: readonly ScheduledExportConfig[] | undefined;
}

const HoldInput = z.object({
  kind: z.enum(HOLD_KINDS),
  value: z.string().min(1).max(256),
  reason: z.string().min(1).max(1000),
  teams: TeamScope.optional(),
}).strict()
  .refine((h) => h.kind !== 'team' || h.teams === undefined, { message: 'a team hold names its team in value', path: ['teams'] })
  .refine((h) => h.kind !== AUDIT_HOLD || h.teams === undefined, { message: 'an audit hold covers the audit trail, which is not divided by team', path: ['teams'] })
  .refine((h) => h.kind !== AUDIT_HOLD || auditHoldValue(h.value) !== undefined, { message: "an audit hold's value is * (the whole trail) or a person's email", path: ['value'] });

const outOfScope = (): ProxyError =>
  new ProxyError(403, 'team_out_of_scope', 'A team-scoped caller erases and holds the calls of its own teams only.', 'permission_error', 'teams');

/**
 * The teams a caller's erasure or hold reaches: the ones it names, each within its scope, or,
 * when it names none, its scope (undefined for an unscoped caller: every team).
 */
function scopedTeams(p: Principal, asked: readonly string[] | undefined): string[] | undefined {
  if (asked === undefined) return p.teams.length > 0 ? [...p.teams] : undefined;
  if (!coversTeams(p, asked)) throw outOfScope();
  return [...new Set(asked)];
}

const trailOutOfScope = (): ProxyError =>
  new ProxyError(403, 'team_out_of_scope', 'The audit trail is not divided by team: its legal holds are for unscoped callers.', 'permission_error', 'kind');

/**
 * Whether a caller may see a hold: every team it covers (none = every team) is in the caller's
 * scope; a hold of the audit trail, an unscoped caller only.
 */
const holdInScope = (p: Principal, h: LegalHold): boolean => coversTeams(p, isCallHold(h) ? holdTeams(h) ?? [] : []);

function parse<T>(schema: z.ZodType<T>, body: unknown, code: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw badRequest(code, r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

export function eraseRoutes(deps: EraseRouteDeps) {
  const { store, gov } = deps;
  const audit = (req: FastifyRequest, action: string, target: string, details: Record<string, unknown>): Promise<unknown> =>
    appendAudit(store, { ...auditWho(req), action, targetType: action.startsWith('hold') ? 'legal_hold' : 'calls', target, details });

  /** The erasure's files at the provider; a failure here never stops the erasure of the calls. */
  const upstreamFiles = async (r: EraseRequest): Promise<UpstreamFilesReceipt> => {
    try {
      return await deps.upstreamFiles.erase(r, Date.now());
    } catch (err) {
      deps.logger.warn({ err, code: 'GATELOG_ERR_FILE_PURGE' }, 'could not delete an erasure\'s files at their provider; the purge sweep tries again');
      return { deleted: 0, failed: 0, held: 0, waiting: 0, skipped_reason: 'the files could not be looked up now; the purge sweep deletes them later.' };
    }
  };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    const guard = adminGuard(gov, store);
    app.addHook('onRequest', async (req) => {
      await guard(req);
    });

    app.post('/erase', async (req) => {
      const asked = parse(EraseRequest, req.body, 'invalid_erase_request');
      const teams = scopedTeams(principalOf(req), asked.teams);
      const r: EraseRequest = teams === undefined ? asked : { ...asked, teams };
      // The files at the provider first: the erasure recorded by eraseCalls is what the purge sweep
      // applies again (files of batches still running, deletions that failed), and it should find
      // nothing this pass has deleted, so the receipt counts them here.
      const upstream = await upstreamFiles(r);
      const receipt = await eraseCalls(store, r, { dataDir: deps.dataDir, exports: deps.exports });
      // This proxy's cached answers from the erased calls (held ones too: a cache is no record);
      // other proxies drop theirs within keys.refresh_ms (cache/erasure-watch.ts).
      // `at` on the wall clock, as events' started_at; the cache's own times on the governance clock.
      const cached = gov.cache.forget({ id: '', at: Date.now(), request: r }, gov.now());
      const { rows: _rows, ...selector } = r;
      // The scope applied, said outright: null = every team.
      const scope = r.teams ?? null;
      await audit(req, 'calls.erase', JSON.stringify(selector), { selector, teams: scope, receipt: { ...receipt, upstream_files: upstream }, cache_entries: cached });
      return { object: 'erase.receipt', selector, ...receipt, upstream_files: upstream, cache_entries: cached, teams: scope };
    });

    app.get('/holds', { config: { query: [] } }, async (req) => {
      const p = principalOf(req);
      return { object: 'list', data: (await listHolds(store)).filter((h) => holdInScope(p, h)) };
    });

    app.post('/holds', async (req, reply) => {
      const { teams: asked, kind, value, reason } = parse(HoldInput, req.body, 'invalid_hold');
      const p = principalOf(req);
      const at = new Date(gov.now()).toISOString();
      const fields = { id: `hold_${randomUUID()}`, version: 1, reason, active: true, created_at: at, updated_at: at, updated_by: adminActor(req) };
      let hold: LegalHold;
      if (kind === AUDIT_HOLD) {
        if (p.teams.length > 0) throw trailOutOfScope();
        hold = { ...fields, kind, value: auditHoldValue(value)! };
      } else {
        // A team hold covers its own team; the others are narrowed like an erasure.
        if (kind === 'team' && !inScope(p, value)) throw outOfScope();
        const teams = kind === 'team' ? undefined : scopedTeams(p, asked);
        hold = { ...fields, kind, value, ...(teams ? { teams } : {}) };
      }
      await writeHold(store, hold);
      await audit(req, 'hold.place', hold.id, { hold });
      // Protect the calls it covers before any TTL merge can remove them (the trail's expiry reads its holds itself).
      if (isCallHold(hold)) await markHolds(store);
      return reply.code(201).send({ hold });
    });

    app.delete('/holds/:id', async (req) => {
      const id = (req.params as { id?: unknown }).id;
      const cur = (await listHolds(store)).find((h) => h.id === id);
      if (!cur) throw new ProxyError(404, 'hold_not_found', 'No legal hold with this id.', 'not_found_error', 'id');
      const p = principalOf(req);
      if (!holdInScope(p, cur)) throw isCallHold(cur) ? outOfScope() : trailOutOfScope();
      // A hold is a legal instruction, often placed above the team: a team-scoped caller may
      // place holds on its teams, never take one away.
      if (p.teams.length > 0) throw new ProxyError(403, 'team_out_of_scope', 'Lifting a legal hold needs an unscoped admin, an owner or the master key.', 'permission_error', 'id');
      if (!cur.active) return { hold: cur };
      const lifted: LegalHold = { ...cur, version: cur.version + 1, active: false, updated_at: new Date(gov.now()).toISOString(), updated_by: adminActor(req) };
      await writeHold(store, lifted);
      await audit(req, 'hold.lift', cur.id, { hold: lifted });
      if (isCallHold(lifted)) await markHolds(store);
      return { hold: lifted };
    });
    done();
  };
}

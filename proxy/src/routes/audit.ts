// The audit trail over the admin API (guarded like every admin route):
//   POST /admin/audit        append one row for a UI that cannot write the store itself (a
//                            distributed UI reads ClickHouse read-only): who, role, ip and user
//                            agent as the UI saw them; the UI holds the master key.
//   GET  /admin/audit/chain  every chained row in (chain_id, seq) order as JSON lines
//                            (?from=ISO): what `gatelog audit verify --url` checks itself.
//                            Callers of every team only: proving the chain takes every row
//                            whole (each hash covers the row's details), so a team-scoped
//                            auditor would read every team's rows; it is refused (403) and
//                            reads its teams' rows at GET /admin/audit.
//   GET  /admin/audit/sinks  whether each sink of `audit.sinks` has every row (status.ts in
//                            core/src/audit-stream): progress per chain, failing or not, the
//                            last error as a code and a reason; addresses without secrets.
//                            Like the chain, not for a team-scoped caller (403).
// GET /admin/audit (the newest rows, filtered) is in admin.ts, parsed by `auditQuery`.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_EXPIRE, CHAIN_OPEN, appendAudit, chainRows, type AuditFilter, type Store } from '@gatelog/core';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminGuard, adminActor } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { SinkStatusReader } from '../audit-stream.ts';

export interface AuditRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  /** The audit sinks' status (none configured: an empty list). */
  sinks?: SinkStatusReader | undefined;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An instant given as an ISO date or date-time (UTC), or a 400 naming the parameter. */
export function isoParam(v: string | undefined, name: string): string | undefined {
  if (!v) return undefined;
  const t = ISO.test(v) ? Date.parse(/[Tt]/.test(v) && !v.endsWith('Z') ? `${v}Z` : v) : NaN;
  if (!Number.isFinite(t)) throw badRequest('invalid_time', `${name}: expected an ISO date or date-time (UTC), e.g. 2026-12-01 or 2026-12-01T00:00:00Z.`, name);
  return new Date(t).toISOString();
}

/** GET /admin/audit's query: filters, page size and a keyset cursor, each checked. */
export function auditQuery(q: Record<string, string | undefined>): AuditFilter & { limit: number; before?: { at: string; id: string } } {
  const limit = q['limit'] ? Number(q['limit']) : 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('invalid_limit', 'limit: expected an integer from 1 to 1000.', 'limit');
  const beforeAt = isoParam(q['before_at'], 'before_at');
  const beforeId = q['before_id'];
  if ((beforeAt === undefined) !== (beforeId === undefined) || (beforeId !== undefined && !UUID.test(beforeId))) {
    throw badRequest('invalid_cursor', 'before_at and before_id go together (the last row of the previous page).', 'before_id');
  }
  return {
    limit,
    actor: q['actor'] || undefined,
    action: q['action'] || undefined,
    exportId: q['export_id'] || undefined,
    from: isoParam(q['from'], 'from'),
    to: isoParam(q['to'], 'to'),
    ...(beforeAt && beforeId ? { before: { at: beforeAt, id: beforeId } } : {}),
  };
}

const text = (max: number) => z.string().max(max).optional();
const AppendBody = z.strictObject({
  action: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/).refine((a) => a !== CHAIN_OPEN && a !== AUDIT_EXPIRE, 'reserved'),
  actor: z.string().min(1).max(320),
  role: text(32),
  target_type: text(64),
  target: text(512),
  details: z.record(z.string(), z.unknown()).optional(),
  source_ip: text(64),
  user_agent: text(512),
});

export function auditRoutes(deps: AuditRouteDeps) {
  const { store, gov } = deps;
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(gov, store));

    app.post('/audit', async (req, reply) => {
      const r = AppendBody.safeParse(req.body ?? {});
      if (!r.success) {
        const i = r.error.issues[0];
        throw badRequest('invalid_audit_row', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`, i?.path.join('.') || null);
      }
      const b = r.data;
      const row = await appendAudit(store, {
        action: b.action, actor: b.actor, role: b.role, targetType: b.target_type, target: b.target,
        // Which credential wrote it on the person's behalf, next to what the person did.
        details: { ...b.details, recorded_via: adminActor(req) },
        sourceIp: b.source_ip ?? req.ip, userAgent: b.user_agent ?? req.headers['user-agent'],
      });
      return reply.code(201).send({ id: row.id, chain_id: row.chain_id, seq: row.seq, row_hash: row.row_hash });
    });

    app.get('/audit/chain', { config: { query: ['from'] } }, async (req, reply) => {
      if (principalOf(req).teams.length) {
        throw new ProxyError(403, 'team_out_of_scope', 'The whole audit chain holds every team\'s rows; a team-scoped caller reads its own teams\' rows at GET /admin/audit.', 'permission_error');
      }
      const from = isoParam((req.query as { from?: string }).from, 'from');
      async function* lines(): AsyncGenerator<string> {
        for await (const page of chainRows(store, { from })) yield page.map((r) => `${JSON.stringify(r)}\n`).join('');
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
    });
    app.get('/audit/sinks', { config: { query: [] } }, async (req) => {
      // Each sink carries every team's rows, and its chains' progress counts them.
      if (principalOf(req).teams.length) throw new ProxyError(403, 'team_out_of_scope', 'The audit sinks carry every team\'s rows; their status is for callers without a team scope.', 'permission_error');
      return { object: 'list', data: deps.sinks ? await deps.sinks() : [] };
    });
    done();
  };
}

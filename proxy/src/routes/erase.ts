// Admin API for erasure and legal holds (the master key, or a token allowed settings.write):
//   POST   /admin/erase        {user|key|trace|before, rows?} → a receipt (rows, bytes, held, files, cache_entries, ms)
//   GET    /admin/holds        active and lifted holds
//   POST   /admin/holds        {kind: key|team|user|trace, value, reason} → the hold
//   DELETE /admin/holds/:id    lift it
// Every erasure and every hold change is written to the audit log with the receipt or the hold.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { appendAudit, EraseRequest, eraseCalls, HOLD_KINDS, listHolds, markHolds, writeHold, type LegalHold, type Store } from '@gatelog/core';
import { ProxyError, badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminActor, adminGuard, auditWho } from './admin-caller.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface EraseRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
  /** Where this process keeps its event log, spool and dead letters (scrubbed too). */
  dataDir?: string | undefined;
}

const HoldInput = z.object({ kind: z.enum(HOLD_KINDS), value: z.string().min(1).max(256), reason: z.string().min(1).max(1000) }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown, code: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw badRequest(code, r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

export function eraseRoutes(deps: EraseRouteDeps) {
  const { store, gov } = deps;
  const audit = (req: FastifyRequest, action: string, target: string, details: Record<string, unknown>): Promise<unknown> =>
    appendAudit(store, { ...auditWho(req), action, targetType: action.startsWith('hold') ? 'legal_hold' : 'calls', target, details });

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    const guard = adminGuard(gov, store);
    app.addHook('onRequest', async (req) => {
      await guard(req);
    });

    app.post('/erase', async (req) => {
      const r = parse(EraseRequest, req.body, 'invalid_erase_request');
      const receipt = await eraseCalls(store, r, { dataDir: deps.dataDir });
      // This proxy's cached answers from the erased calls (held ones too: a cache is no record);
      // other proxies drop theirs within keys.refresh_ms (cache/erasure-watch.ts).
      // `at` on the wall clock, as events' started_at; the cache's own times on the governance clock.
      const cached = gov.cache.forget({ id: '', at: Date.now(), request: r }, gov.now());
      const { rows: _rows, ...selector } = r;
      await audit(req, 'calls.erase', JSON.stringify(selector), { selector, receipt, cache_entries: cached });
      return { object: 'erase.receipt', selector, ...receipt, cache_entries: cached };
    });

    app.get('/holds', async () => ({ object: 'list', data: await listHolds(store) }));

    app.post('/holds', async (req, reply) => {
      const h = parse(HoldInput, req.body, 'invalid_hold');
      const at = new Date(gov.now()).toISOString();
      const hold: LegalHold = { id: `hold_${randomUUID()}`, version: 1, ...h, active: true, created_at: at, updated_at: at, updated_by: adminActor(req) };
      await writeHold(store, hold);
      await audit(req, 'hold.place', hold.id, { hold });
      // Protect what it covers before any TTL merge can remove it.
      await markHolds(store);
      return reply.code(201).send({ hold });
    });

    app.delete('/holds/:id', async (req) => {
      const id = (req.params as { id?: unknown }).id;
      const cur = (await listHolds(store)).find((h) => h.id === id);
      if (!cur) throw new ProxyError(404, 'hold_not_found', 'No legal hold with this id.', 'not_found_error', 'id');
      if (!cur.active) return { hold: cur };
      const lifted: LegalHold = { ...cur, version: cur.version + 1, active: false, updated_at: new Date(gov.now()).toISOString(), updated_by: adminActor(req) };
      await writeHold(store, lifted);
      await audit(req, 'hold.lift', cur.id, { hold: lifted });
      await markHolds(store);
      return { hold: lifted };
    });
    done();
  };
}

// The UI service's own writes when it reads ClickHouse with a read-only user (distributed
// mode): its sessions (open, touch, revoke) and a person's password set through a one-time
// link. The UI holds the master key, so these routes take the master key only (the guard's
// `master` action); rows are validated by the same zod schemas the store writes with.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '@gatelog/core';
import { SessionRecord, writeSession } from '@gatelog/core/store/sessions';
import { UserRecord, insertUserVersion } from '@gatelog/core/store/users';
import { badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminGuard } from './admin-caller.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

export interface UiWriteRouteDeps {
  store: Store;
  gov: Governance;
  metrics: ProxyMetrics;
}

function parsed<T>(schema: z.ZodType<T>, body: unknown, code: string): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const path = i?.path.join('.') || 'body';
  throw badRequest(code, `${path}: ${i?.message ?? 'invalid'}`, path);
}

export function uiWriteRoutes(deps: UiWriteRouteDeps) {
  const { store, gov } = deps;
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(gov, store));
    app.post('/ui/sessions', async (req, reply) => {
      await writeSession(store, parsed(SessionRecord, req.body, 'invalid_session'));
      return reply.code(204).send();
    });
    app.post('/ui/users', async (req, reply) => {
      await insertUserVersion(store, parsed(UserRecord, req.body, 'invalid_user'));
      return reply.code(204).send();
    });
    done();
  };
}

// Admin reads name the query parameters they take (route option `config.query`); any other is
// refused with a 400 naming it. A misspelt filter — `?frm=` on the audit trail, `?tema=` on the
// keys — would otherwise be ignored and answer with every row, which a script or a compliance
// reviewer reads as the filtered answer. Runs after the route's authentication (onRequest), so
// a caller without access learns nothing about the parameters.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The query parameters this route reads; unset = not checked here (the route checks its own). */
    query?: readonly string[];
  }
}

/** Throws a 400 for the first query parameter the route does not name. */
export function checkKnownQuery(req: FastifyRequest): void {
  const known = req.routeOptions.config.query;
  if (known === undefined) return;
  const q = req.url.indexOf('?');
  if (q < 0) return;
  for (const name of new URLSearchParams(req.url.slice(q + 1)).keys()) {
    if (!known.includes(name)) {
      const shown = JSON.stringify(name.slice(0, 64));
      throw badRequest('invalid_query_parameter', known.length ? `Unknown query parameter ${shown}; this endpoint takes ${known.join(', ')}.` : `Unknown query parameter ${shown}; this endpoint takes none.`, name.slice(0, 64));
    }
  }
}

/** Adds the check to every route registered after this that names its parameters (model calls pay nothing). */
export function installQueryGuard(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.query === undefined) return;
    const own = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
    route.preValidation = [...own, async (req: FastifyRequest) => checkKnownQuery(req)];
  });
}

// Refuses requests whose Host header is not in server.allowed_hosts (see
// core/src/allowed-hosts.ts), before any route runs, in the error shape of the surface the
// path belongs to: Anthropic's on /v1/messages, OpenAI's on the rest of the API, plain text
// for everything else (the UI's pages).
import type { FastifyInstance } from 'fastify';
import type { GatelogConfig } from '@gatelog/core';
import { HOST_REFUSED_MESSAGE, createHostCheck, type HostCheck } from '@gatelog/core/allowed-hosts';
import { ProxyError, openAiErrorBody } from './errors.ts';
import { anthropicErrorBody } from './routes/anthropic.ts';

export interface HostRefusal {
  status: number;
  contentType: string;
  body: string;
}

/** The answer to a request for a host gatelog does not serve. */
export function hostRefusal(url: string | undefined): HostRefusal {
  const path = url ?? '/';
  const e = new ProxyError(403, 'host_not_allowed', HOST_REFUSED_MESSAGE, 'permission_error');
  if (path.startsWith('/v1/messages')) return { status: 403, contentType: 'application/json; charset=utf-8', body: anthropicErrorBody(e) };
  if (path.startsWith('/v1') || path.startsWith('/admin/') || path.startsWith('/metrics') || path.startsWith('/healthz') || path.startsWith('/readyz')) {
    return { status: 403, contentType: 'application/json; charset=utf-8', body: openAiErrorBody(e) };
  }
  return { status: 403, contentType: 'text/plain; charset=utf-8', body: `403 Forbidden: ${HOST_REFUSED_MESSAGE}\n` };
}

export function hostCheckFor(config: GatelogConfig, masterKey: string | undefined): HostCheck | null {
  return createHostCheck(config.server.allowed_hosts, !masterKey);
}

/** Installs the check on the root instance (every route and 404 below it). */
export function installHostGuard(app: FastifyInstance, check: HostCheck | null): void {
  if (!check) return;
  app.addHook('onRequest', (req, reply, done) => {
    if (check(req.headers.host)) {
      done();
      return;
    }
    const r = hostRefusal(req.url);
    void reply.code(r.status).header('content-type', r.contentType).header('cache-control', 'no-store').send(r.body);
  });
}

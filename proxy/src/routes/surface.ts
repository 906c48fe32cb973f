// Shared plumbing for a fastify scope that answers in one API's error shape: one error
// handler, request stamping, and request metrics for responses fastify itself sends.
import type { AuthCheck } from '../auth.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, openAiErrorBody, toProxyError, type ProxyError } from '../errors.ts';
import { parseRedactHeader, REDACT_HEADER, RedactHeaderError } from '@gatelog/core';
import { stampRequest, stateOf } from '../request-state.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { RelayEnv } from '../relay.ts';
import { recordAnsweredError, type ErrorRecording, type ShownError } from './error-record.ts';

export function routeLabel(url: string | undefined): string {
  return url ?? 'unmatched';
}

/** How a surface answers an error: the body, and the type and message the client reads in it. */
export interface ErrorShape {
  body(e: ProxyError): string;
  shown(e: ProxyError): ShownError;
  /** Default: `application/json; charset=utf-8`. */
  contentType?: string;
  /** The surface's own errors as a ProxyError (anything else: toProxyError). */
  from?(err: unknown): ProxyError | undefined;
}

export const OPENAI_ERRORS: ErrorShape = {
  body: openAiErrorBody,
  shown: (e) => ({ type: e.type, message: e.message }),
};

/** `recording`: model routes record the errors they answer (see error-record.ts). */
export function installSurface(app: FastifyInstance, metrics: ProxyMetrics, errors: ErrorShape = OPENAI_ERRORS, recording?: ErrorRecording): void {
  app.decorateRequest('gatelog', null);
  app.addHook('onRequest', stampRequest);
  // Hijacked (relayed) responses are counted by the relay; this sees everything else.
  app.addHook('onResponse', (req, reply, done) => {
    metrics.request(routeLabel(req.routeOptions.url), reply.statusCode, (performance.now() - stateOf(req).t0) / 1000);
    done();
  });
  // Every error of the scope passes here, fastify's own included (body too large, wrong
  // content type: they are raised while the body is read, after the route was matched).
  app.setErrorHandler((err, req, reply) => {
    const e = errors.from?.(err) ?? toProxyError(err);
    // Recorded before it is answered, like every call: the event is in the log first.
    if (recording) recordAnsweredError(recording, req, e, errors.shown(e));
    void reply.code(e.status).header('content-type', errors.contentType ?? 'application/json; charset=utf-8').send(errors.body(e));
  });
}

/** A preHandler: a malformed x-gatelog-redact is the client's error (400), answered before anything is sent. */
export function checkRedactHeader(req: FastifyRequest, _reply: unknown, next: (err?: Error) => void): void {
  try {
    parseRedactHeader(req.headers[REDACT_HEADER]);
    next();
  } catch (err) {
    next(err instanceof RedactHeaderError ? badRequest(err.code, err.message) : (err as Error));
  }
}

export interface ApiSurfaceOptions {
  env: RelayEnv;
  auth: AuthCheck | null;
  /** Who the auth check let in, for the caller of a recorded error. */
  callerOf?: ErrorRecording['callerOf'];
  /** Default: OpenAI's shape. */
  errors?: ErrorShape;
}

/**
 * A model API surface (OpenAI, Anthropic, Responses): the above, plus the auth check, and
 * bodies taken as raw JSON bytes so each handler parses them exactly once.
 */
export function installApiSurface(app: FastifyInstance, o: ApiSurfaceOptions): void {
  installSurface(app, o.env.metrics, o.errors, { env: o.env, callerOf: o.callerOf });
  const auth = o.auth;
  if (auth) {
    app.addHook('onRequest', (req, _reply, next) => {
      const denied = auth(req.headers);
      if (denied) {
        // Never recorded, whatever else is wrong with the call (see request-state.ts).
        stateOf(req).event = 'never';
        next(denied);
      } else next();
    });
  }
  app.addHook('preHandler', checkRedactHeader);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, next) => next(null, body));
}

// Per-request identity and clock, set by the first hook of every route the proxy owns so
// that every response — errors and 404s included — carries x-gatelog-request-id.
import { newRequestId } from '@gatelog/core';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

export interface RequestState {
  id: string;
  /** performance.now() at arrival. */
  t0: number;
  /** Epoch ms at arrival. */
  wall: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    gatelog: RequestState | null;
  }
}

export const REQUEST_ID_HEADER = 'x-gatelog-request-id';

export function stampRequest(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const id = newRequestId();
  req.gatelog = { id, t0: performance.now(), wall: Date.now() };
  reply.header(REQUEST_ID_HEADER, id);
  done();
}

/** The state stamped on arrival (a fresh one if a hook was somehow skipped). */
export function stateOf(req: FastifyRequest): RequestState {
  return req.gatelog ?? { id: newRequestId(), t0: performance.now(), wall: Date.now() };
}

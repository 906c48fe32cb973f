// Per-request identity and clock, set by the first hook of every route the proxy owns so
// that every response — errors and 404s included — carries x-gatelog-request-id; and whether
// the call's event is already recorded, so that it is recorded exactly once.
import { newRequestId } from '@gatelog/core';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * The call's event: 'pending' until one is published ('published': by the relay, a governance
 * refusal or a cache hit), or 'never' when authentication failed (no caller to attribute it
 * to, and anyone could fill the store). The surface's error handler records only 'pending' ones.
 */
export type EventState = 'pending' | 'published' | 'never';

export interface RequestState {
  id: string;
  /** performance.now() at arrival. */
  t0: number;
  /** Epoch ms at arrival. */
  wall: number;
  event: EventState;
}

declare module 'fastify' {
  interface FastifyRequest {
    gatelog: RequestState | null;
  }
}

export const REQUEST_ID_HEADER = 'x-gatelog-request-id';

const fresh = (): RequestState => ({ id: newRequestId(), t0: performance.now(), wall: Date.now(), event: 'pending' });

export function stampRequest(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const st = fresh();
  req.gatelog = st;
  reply.header(REQUEST_ID_HEADER, st.id);
  done();
}

/** The state stamped on arrival (stamped now if a hook was somehow skipped). */
export function stateOf(req: FastifyRequest): RequestState {
  return (req.gatelog ??= fresh());
}

/** This request's event is published: nothing may record it again. */
export function markPublished(req: FastifyRequest): void {
  stateOf(req).event = 'published';
}

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

/**
 * The one decision that a call's event is published now: true exactly once per request (the
 * event was pending), false when it is already published or never to be. Every publisher
 * (relay, governance refusal, cache hit, the surfaces' error handler) asks here first.
 */
export function claimEvent(st: RequestState): boolean {
  if (st.event !== 'pending') return false;
  st.event = 'published';
  return true;
}

/** claimEvent for a request: whether the caller is the one to publish its event. */
export function markPublished(req: FastifyRequest): boolean {
  return claimEvent(stateOf(req));
}

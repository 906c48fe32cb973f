// The rate limits of a Files or Batches request (governance/request-limits.ts) as its routes
// hold them: taken in onRequest, before a byte of the body is read, and given back once the
// response has closed (sent, failed, or the client gone) and the handler, if it started, has
// ended. A client that leaves mid-upload frees its slot at once; one that leaves while its file is
// being rewritten or sent upstream frees it when that work ends — else leaving and retrying would
// run any number of 50 MiB rewrites at once under a max_parallel of 1.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProxyError } from '../errors.ts';
import { refusalError } from '../auth.ts';
import { holdRequest } from '../governance/request-limits.ts';
import { refusalHeaders } from '../governance/refusal.ts';
import type { VirtualKey } from '../governance/keys.ts';
import type { Governance } from '../governance/runtime.ts';

export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** One request's hold: released when both its response has closed and its handler is not running. */
class SlotHold {
  #closed = false;
  #running = false;
  readonly #release: () => void;

  constructor(release: () => void) {
    this.#release = release;
  }

  close(): void {
    this.#closed = true;
    if (!this.#running) this.#release();
  }

  /** The handler starts: false when the client is already gone (nothing is done for it). */
  enter(): boolean {
    if (this.#closed) return false;
    this.#running = true;
    return true;
  }

  leave(): void {
    this.#running = false;
    if (this.#closed) this.#release();
  }
}

const CLIENT_GONE = (): ProxyError => new ProxyError(499, 'client_closed_request', 'The client closed the request before it was handled.');

export interface RequestSlots {
  /** Take one request of the key's (and team's) limits, or throw the 429 with its headers. */
  take(req: FastifyRequest, reply: FastifyReply, key: VirtualKey): Promise<void>;
  /** `h` as a route handler that holds the request's slot while it runs. */
  guard(h: RouteHandler): RouteHandler;
}

export function requestSlots(g: Governance): RequestSlots {
  const holds = new WeakMap<FastifyRequest, SlotHold>();
  return {
    async take(req, reply, key) {
      const held = await holdRequest(g, key);
      if (!held.ok) {
        void reply.headers(refusalHeaders(held.refusal));
        g.metrics.refusal(held.refusal.code);
        throw refusalError(held.refusal);
      }
      void reply.headers(held.headers);
      const release = held.release;
      if (!release) return;
      const fail = (err: unknown): void => g.logger.warn({ err, code: 'GATELOG_ERR_SETTLE' }, 'could not give a Files/Batches request slot back');
      const hold = new SlotHold(() => void release().catch(fail));
      holds.set(req, hold);
      // 'close' follows every end of the response: sent, failed, or the client gone mid-upload.
      reply.raw.once('close', () => hold.close());
    },
    guard(h) {
      return async (req, reply) => {
        const hold = holds.get(req);
        if (!hold) return h(req, reply);
        if (!hold.enter()) throw CLIENT_GONE();
        try {
          return await h(req, reply);
        } finally {
          hold.leave();
        }
      };
    },
  };
}

// A gatelog proxy (buildProxy on 127.0.0.1:0) for routing tests: config from a partial object,
// published events collected, and a bounded wait for the event of one request.
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';

export interface RoutingProxy {
  url: string;
  app: FastifyInstance;
  registry: Registry;
  events: LlmCallEvent[];
  eventFor(id: string | null, timeoutMs?: number): Promise<LlmCallEvent>;
  /** The latest event published (waiting up to 2 s for a first one). */
  lastEvent(): Promise<LlmCallEvent>;
  close(): Promise<void>;
}

/** `env`: what `${VAR}` and provider credential defaults read (none by default). */
export async function startRoutingProxy(config: Record<string, unknown>, masterKey?: string, env: Record<string, string> = {}): Promise<RoutingProxy> {
  const events: LlmCallEvent[] = [];
  const registry = new Registry();
  const app = await buildProxy({ config: parseConfig(config, 'routing-test', env), publish: (e) => events.push(e), logger: createLogger('silent'), registry, masterKey });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    app,
    registry,
    events,
    async eventFor(id, timeoutMs = 5000) {
      const t0 = Date.now();
      for (;;) {
        const e = events.find((x) => x.request_id === id);
        if (e) return LlmCallEvent.parse(e);
        if (Date.now() - t0 > timeoutMs) throw new Error(`no event for request ${String(id)} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async lastEvent() {
      for (let i = 0; i < 400 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      return LlmCallEvent.parse(events[events.length - 1]);
    },
    async close() {
      const closing = app.close();
      // The test's own fetch client may hold a spare connection that never sent a request;
      // Node's server.close() would wait for it until the keep-alive timeout.
      app.server.closeAllConnections();
      await closing;
    },
  };
}

/** Poll until `cond` holds (bounded); throws with `what` otherwise. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

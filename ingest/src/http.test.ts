import { createServer, type Server } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestHttpHandler } from './http.ts';

const KEY = 'ingest-master-key';

describe('ingest HTTP surface', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function serve(masterKey: string | undefined, healthy = true): Promise<string> {
    const registry = new Registry();
    new Counter({ name: 'gatelog_ingest_rows_total', help: 'rows', registers: [registry] }).inc(3);
    const server = createServer(ingestHttpHandler({ healthy: () => healthy, registry, masterKey }));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  it('with a master key: /metrics answers only to it, in the proxy error shape; /healthz stays open', async () => {
    const url = await serve(KEY);
    const missing = await fetch(`${url}/metrics`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: { message: expect.stringContaining('Missing API key') as string, type: 'authentication_error', param: null, code: 'invalid_api_key' } });
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { message: 'Incorrect API key provided.', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
    for (const headers of [{ authorization: `Bearer ${KEY}` }, { 'x-api-key': KEY }] as Record<string, string>[]) {
      const ok = await fetch(`${url}/metrics?x=1`, { headers });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('gatelog_ingest_rows_total 3');
    }
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/nope`, { headers: { 'x-api-key': KEY } })).status).toBe(404);
  });

  it('without a master key: /metrics is open; an unhealthy worker answers 503 on /healthz', async () => {
    const url = await serve(undefined, false);
    const m = await fetch(`${url}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('gatelog_ingest_rows_total 3');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'unavailable' });
  });
});

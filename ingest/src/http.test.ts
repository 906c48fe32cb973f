import { createServer, type Server } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHostCheck } from '@gatelog/core/allowed-hosts';
import { sendWithHost } from '../../test/support/host-request.ts';
import { ingestHttpHandler, type IngestHttpDeps } from './http.ts';

const KEY = 'ingest-master-key';

describe('ingest HTTP surface', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function serve(masterKey: string | undefined, healthy = true, over: Partial<IngestHttpDeps> = {}): Promise<string> {
    const registry = new Registry();
    new Counter({ name: 'gatelog_ingest_rows_total', help: 'rows', registers: [registry] }).inc(3);
    const server = createServer(ingestHttpHandler({ healthy: () => healthy, readiness: () => ({ kafka: true, clickhouse: true }), registry, masterKey, hostCheck: null, ...over }));
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

  it('/readyz: 200 ready when every dependency is up, else 503 naming what is down; open to any caller', async () => {
    const checks = { kafka: true, clickhouse: true };
    const url = await serve(KEY, true, { readiness: () => ({ ...checks }) });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { kafka: true, clickhouse: true } });
    checks.kafka = false;
    const noKafka = await fetch(`${url}/readyz?verbose=1`);
    expect(noKafka.status).toBe(503);
    expect(await noKafka.json()).toEqual({ status: 'unavailable', reasons: ['kafka'], checks: { kafka: false, clickhouse: true } });
    checks.clickhouse = false;
    expect(await (await fetch(`${url}/readyz`)).json()).toMatchObject({ status: 'unavailable', reasons: ['kafka', 'clickhouse'] });
    // Liveness does not follow readiness: an orchestrator must not restart a worker waiting for Kafka.
    const live = await fetch(`${url}/healthz`);
    expect(live.status).toBe(200);
  });

  it('/metrics answers only the allowed Host names (DNS rebinding); the probes answer any Host', async () => {
    // No master key: the default is the loopback names, as on the proxy.
    const url = await serve(undefined, true, { hostCheck: createHostCheck(undefined, true) });
    const port = new URL(url).port;
    const get = (path: string, host: string) => sendWithHost(url, 'GET', path, host);
    for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io']) {
      const r = await get('/metrics', host);
      expect(r.status, host).toBe(403);
      expect(r.type).toMatch(/^application\/json/);
      expect(JSON.parse(r.body), host).toEqual({ error: { message: expect.stringContaining('allowed_hosts') as string, type: 'permission_error', param: null, code: 'host_not_allowed' } });
      expect(r.body).not.toContain('gatelog_ingest_rows_total');
      expect((await get('/healthz', host)).status, host).toBe(200);
      expect((await get('/readyz', host)).status, host).toBe(200);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, '[::1]']) {
      const r = await get('/metrics', host);
      expect(r.status, host).toBe(200);
      expect(r.body).toContain('gatelog_ingest_rows_total 3');
    }
    // server.allowed_hosts replaces the default; the master key still guards /metrics behind it.
    const named = await serve(KEY, true, { hostCheck: createHostCheck(['ingest.internal'], false) });
    const withKey = { authorization: `Bearer ${KEY}` };
    expect((await sendWithHost(named, 'GET', '/metrics', new URL(named).host, undefined, withKey)).status).toBe(403);
    expect((await sendWithHost(named, 'GET', '/metrics', 'ingest.internal:4001', undefined, withKey)).status).toBe(200);
    expect((await sendWithHost(named, 'GET', '/metrics', 'ingest.internal:4001')).status).toBe(401);
    expect((await sendWithHost(named, 'GET', '/readyz', 'elsewhere')).status).toBe(200);
  });
});

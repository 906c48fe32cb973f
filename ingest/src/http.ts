// The ingest worker's own HTTP surface, apart from the server that listens (main.ts): /healthz
// (liveness: the worker has not crashed; a Kafka outage does not fail it, so an orchestrator does
// not restart the worker in a loop while it waits for Kafka) and /readyz (readiness: Kafka and
// ClickHouse reachable, readiness.ts), both open to any caller and any Host (probes carry no
// credentials and send the pod's address as Host; their answers name no host or secret), and
// /metrics for Prometheus, which takes the master key as the proxy's /metrics does whenever one
// is configured and answers only the Host names server.allowed_hosts allows (DNS rebinding, as
// on the proxy: core/src/allowed-hosts.ts). The series carry no tenant labels today (topic,
// partition, reason codes), but the embedded mode serves these same series behind the key, and a
// worker with the master key should not answer anyone who reaches its port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { HOST_REFUSED_MESSAGE, type HostCheck } from '@gatelog/core/allowed-hosts';
import { createMasterKeyCheck, keyRefusalBody } from '@gatelog/core/auth/master-key';

export interface IngestHttpDeps {
  healthy: () => boolean;
  /** By dependency, false naming what is down (Ingest.readiness). */
  readiness: () => Record<string, boolean>;
  registry: Registry;
  /** GATELOG_MASTER_KEY; unset leaves /metrics open. */
  masterKey: string | undefined;
  /** createHostCheck(server.allowed_hosts, …); null answers every Host. */
  hostCheck: HostCheck | null;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const HOST_REFUSED = JSON.stringify({ error: { message: HOST_REFUSED_MESSAGE, type: 'permission_error', param: null, code: 'host_not_allowed' } });

export function ingestHttpHandler(deps: IngestHttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const check = createMasterKeyCheck(deps.masterKey);
  const json = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }).end(body);
  };
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      const ok = deps.healthy();
      json(res, ok ? 200 : 503, JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (path === '/readyz') {
      const checks = deps.readiness();
      const reasons = Object.keys(checks).filter((k) => !checks[k]);
      json(res, reasons.length ? 503 : 200, JSON.stringify(reasons.length ? { status: 'unavailable', reasons, checks } : { status: 'ready', checks }));
      return;
    }
    if (deps.hostCheck && !deps.hostCheck(req.headers.host)) {
      json(res, 403, HOST_REFUSED);
      return;
    }
    if (path === '/metrics') {
      const refused = check?.(req.headers) ?? null;
      if (refused) {
        json(res, refused.status, keyRefusalBody(refused));
        return;
      }
      deps.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  };
}

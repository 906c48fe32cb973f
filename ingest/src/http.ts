// The ingest worker's own HTTP surface, apart from the server that listens (main.ts): /healthz for
// probes, always open, and /metrics for Prometheus, which takes the master key as the proxy's
// /metrics does whenever one is configured. The series carry no tenant labels today (topic,
// partition, reason codes), but the embedded mode serves these same series behind the key, and a
// worker with the master key should not answer anyone who reaches its port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { createMasterKeyCheck, keyRefusalBody } from '@gatelog/core/auth/master-key';

export interface IngestHttpDeps {
  healthy: () => boolean;
  registry: Registry;
  /** GATELOG_MASTER_KEY; unset leaves /metrics open. */
  masterKey: string | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function ingestHttpHandler(deps: IngestHttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const check = createMasterKeyCheck(deps.masterKey);
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      const ok = deps.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': JSON_TYPE }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (path === '/metrics') {
      const refused = check?.(req.headers) ?? null;
      if (refused) {
        res.writeHead(refused.status, { 'content-type': JSON_TYPE }).end(keyRefusalBody(refused));
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

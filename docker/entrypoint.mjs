// The container image's entrypoint: the first argument picks the gatelog service, the rest are
// that service's own flags.
//   proxy | ingest | ui      the distributed services (docker-compose.yml, deploy/k8s)
//   start | keys | version   the `gatelog` CLI: `start` is the embedded one-process mode
// The chosen module runs in this process (no wrapper process between it and the signals).
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = { proxy: 'proxy/src/main.ts', ingest: 'ingest/src/main.ts', ui: 'docker/ui-server.mjs' };
/** Each service's default health port, for the image's HEALTHCHECK (docker/healthcheck.mjs). */
const HEALTH_PORT = { ingest: () => process.env.GATELOG_INGEST_PORT || 4001, ui: () => process.env.PORT || 3000 };

const [name = 'start', ...rest] = process.argv.slice(2);
const service = Object.hasOwn(SERVICES, name) ? SERVICES[name] : undefined;
const target = join(ROOT, service ?? 'src/cli.ts');
try {
  const port = Object.hasOwn(HEALTH_PORT, name) ? HEALTH_PORT[name]() : 4000;
  writeFileSync(join(tmpdir(), 'gatelog-health-url'), `http://127.0.0.1:${port}/healthz`);
} catch {
  // A read-only /tmp: the health check falls back to its own default.
}
// Each main reads its flags from process.argv, as when it is started directly.
process.argv = [process.argv[0], target, ...(service ? rest : [name, ...rest])];
await import(pathToFileURL(target).href);

// The UI as its own service (`docker run IMAGE ui`, docker-compose.yml, deploy/k8s): an HTTP
// server over the SvelteKit build's handler, as the embedded launcher mounts it. It tells the
// build the request's scheme in x-gatelog-proto (the header the build reads, ui/vite.config.ts;
// any client-sent value is overwritten): https when a TLS-terminating proxy in front says so in
// X-Forwarded-Proto, else http. Without it adapter-node assumes https, and the origin check of
// every form POST (sign-in, keys) fails on a plain-http port. Also serves /healthz for probes.
// Environment: HOST (default 0.0.0.0), PORT (default 3000), GATELOG_UI_BUILD (default ui/build);
// the UI's own variables are read by the build (core/src/env.ts, UiEnv).
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = resolve(process.env.GATELOG_UI_BUILD || join(ROOT, 'ui', 'build'));
const host = process.env.HOST || '0.0.0.0';
const port = Number(process.env.PORT || 3000);
const { handler } = await import(pathToFileURL(join(build, 'handler.js')).href);

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"status":"ok"}');
    return;
  }
  req.headers['x-gatelog-proto'] = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  handler(req, res, () => {
    res.writeHead(404).end();
  });
});
server.listen(port, host, () => {
  const addr = server.address();
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), service: 'gatelog-ui', url: `http://${shown}:${typeof addr === 'object' && addr ? addr.port : port}`, msg: 'gatelog ui listening' })}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 10_000).unref();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

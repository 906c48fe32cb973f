// Container health check (the image has node, not curl): exits 0 when the service's health
// URL answers 2xx within 4 s. The URL comes from GATELOG_HEALTHCHECK_URL (set per service in
// docker-compose.yml), else the first argument, else the proxy's default port.
const url = process.env.GATELOG_HEALTHCHECK_URL || process.argv[2] || 'http://127.0.0.1:4000/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000), redirect: 'manual' });
  await res.arrayBuffer();
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}

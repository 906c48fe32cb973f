// Container health check (the image has node, not curl): exits 0 when the service's health
// URL answers 2xx within 4 s. The URL is the first argument (docker-compose.yml passes one per
// service), else GATELOG_HEALTHCHECK_URL, else the one the entrypoint noted for the service it
// started, else the proxy's (and `start`'s) /healthz.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function noted() {
  try {
    return readFileSync(join(tmpdir(), 'gatelog-health-url'), 'utf8').trim();
  } catch {
    return '';
  }
}

const url = process.argv[2] || process.env.GATELOG_HEALTHCHECK_URL || noted() || 'http://127.0.0.1:4000/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000), redirect: 'manual' });
  await res.arrayBuffer();
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}

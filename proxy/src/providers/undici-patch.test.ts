// gatelog patches undici (patches/undici@8.12.4.patch): its request handler assigned a fresh
// arrow function to `this.abort` on every request, and V8 allocates a function literal assigned
// straight to a property in the old generation, so each request's whole state survived every
// scavenge until the next mark-compact (~10 MB kept per scavenge under load, 20–50 ms pauses).
// These tests fail if an undici upgrade drops the patch, and check the abort path it rewrote.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const CHILD = fileURLToPath(new URL('./testdata/promotion-child.ts', import.meta.url));

describe('undici as gatelog installs it', () => {
  it('creates no per-request closure on a property of its request handler', () => {
    const src = readFileSync(require.resolve('undici/lib/api/api-request.js'), 'utf8');
    expect(src).not.toMatch(/^\s*this\.abort\s*=\s*(\([^)]*\)|\w+)\s*=>/m);
    expect(src).toContain('this.controller.abort(this.reason)');
  });

  it('leaves almost nothing of a finished request to be promoted out of the young generation', () => {
    // Unpatched: ~4,100 bytes promoted per request (the whole request, held by the old-space
    // closure until a mark-compact); patched: ~180.
    const r = spawnSync(process.execPath, ['--expose-gc', '--disable-warning=ExperimentalWarning', CHILD], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { requests: number; scavenges: number; promotedPerRequest: number };
    expect(m.scavenges).toBeGreaterThan(10);
    expect(m.promotedPerRequest).toBeLessThan(1500);
  }, 90_000);

  it('still aborts a request whose signal fires before the upstream answers', async () => {
    let arrived!: () => void;
    const got = new Promise<void>((r) => (arrived = r));
    let upstreamReq: IncomingMessage | null = null;
    const server = createServer((req) => {
      upstreamReq = req;
      arrived(); // never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const pool = new Pool(`http://127.0.0.1:${port}`);
    try {
      const ac = new AbortController();
      const pending = pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{}', signal: ac.signal });
      await got;
      const upstreamClosed = new Promise<void>((r) => upstreamReq!.socket.once('close', () => r()));
      const reason = new Error('client gone');
      ac.abort(reason);
      await expect(pending).rejects.toBe(reason);
      await upstreamClosed;
    } finally {
      await pool.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});

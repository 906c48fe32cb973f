// A slow export must not block anyone else's reads. An audit export whose client stops
// reading keeps its ClickHouse query open (the FIFO's writer blocks); meanwhile revoking a key,
// loading a UI page and the health check must answer at once, and the export must still
// complete, row for row, once its client reads again. Before query isolation, key revocation
// waited for the whole download (35 s measured) because every bound query in the process
// queued behind the export's.
import { execFile } from 'node:child_process';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { MASTER, sleep } from './harness.ts';

const ROWS = 30_000;
/** Well beyond every buffer between ClickHouse and a paused client (pipe, stream, sockets). */
const BODY_BYTES = 3_000;
/** What "answers at once" means on this shared, loaded 2-core machine (a blocked read waits for the whole download: > 20 s). */
const BOUND_MS = 3_000;

let gl: GatelogProcess;
let cookie = '';
/** The export download, ended in afterAll if a failure left it paused. */
let downloadReq: ClientRequest | undefined;

async function timed(path: string, init: RequestInit = {}): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(`${gl.url}${path}`, { redirect: 'manual', ...init, signal: AbortSignal.timeout(20_000) });
  await r.arrayBuffer();
  return { status: r.status, ms: performance.now() - t0 };
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-abuse-export-'));
  await promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'test/abuse/seed-calls.ts'), dataDir, String(ROWS), String(BODY_BYTES)], { cwd: ROOT });
  gl = await startGatelog({ dataDir, env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 60_000 });
  const login = await fetch(`${gl.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gl.url },
    body: new URLSearchParams({ key: MASTER, next: '/requests' }).toString(),
  });
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  expect(cookie).toMatch(/=/);
}, 120_000);

afterAll(async () => {
  downloadReq?.destroy();
  if (gl) await Promise.race([gl.stop(), sleep(10_000).then(() => gl.kill9())]);
});

describe('a slowly read export', () => {
  it('leaves revocation, UI pages and health answering within bounds, and still completes', async () => {
    const admin = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };
    const created = await fetch(`${gl.url}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'to-revoke' }) });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: { id: string } };

    // What is measured below is waiting, not the one-off loading of the page's code.
    expect((await timed('/requests', { headers: { cookie } })).status).toBe(200);
    const quiet = await timed('/requests', { headers: { cookie } });

    // Start the export, take its first bytes, then stop reading.
    let lines = 0;
    let received = 0;
    let download: IncomingMessage | undefined;
    const { url } = gl;
    const done = new Promise<void>((resolve, reject) => {
      const req = request(`${url}/export?format=jsonl`, { headers: { cookie } }, (res) => {
        download = res;
        if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`));
        res.on('data', (c: Buffer) => {
          received += c.length;
          for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        });
        res.once('data', () => res.pause());
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
      downloadReq = req;
    });
    // A failure below ends the download in afterAll; that reset is not a second failure.
    done.catch(() => undefined);
    for (let i = 0; i < 100 && received === 0; i++) await sleep(100);
    expect(received).toBeGreaterThan(0);
    await sleep(1_500);
    const paused = received;

    const revoke = await timed(`/admin/keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${MASTER}` } });
    const page = await timed('/requests', { headers: { cookie } });
    const health = await timed('/healthz');
    const keyPage = await timed(`/admin/keys/${key.id}`, { headers: { authorization: `Bearer ${MASTER}` } });
    // The export really was held open while they ran.
    expect(received).toBe(paused);
    expect(paused).toBeLessThan(ROWS * BODY_BYTES / 2);

    expect(revoke).toMatchObject({ status: 200 });
    expect(page).toMatchObject({ status: 200 });
    expect(health).toMatchObject({ status: 200 });
    expect(keyPage).toMatchObject({ status: 200 });
    for (const [what, r] of Object.entries({ revoke, page, health, keyPage })) expect(r.ms, `${what} took ${Math.round(r.ms)} ms`).toBeLessThan(BOUND_MS);

    // The revocation is in force, and the export finishes intact once read again.
    const k = (await (await fetch(`${gl.url}/admin/keys/${key.id}`, { headers: admin })).json()) as { key: { revoked: boolean } };
    expect(k.key.revoked).toBe(true);
    const t0 = performance.now();
    download?.resume();
    await Promise.race([done, sleep(90_000).then(() => Promise.reject(new Error('export did not finish')))]);
    expect(lines).toBe(ROWS);
    console.log(`quiet /requests ${Math.round(quiet.ms)} ms; paused export: revoke ${Math.round(revoke.ms)} ms, /requests ${Math.round(page.ms)} ms, /healthz ${Math.round(health.ms)} ms; rest of the export in ${Math.round(performance.now() - t0)} ms`);
  }, 180_000);
});

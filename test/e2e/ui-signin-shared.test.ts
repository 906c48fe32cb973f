// Sign-in lockout across UI replicas: two UI services (docker/ui-server.mjs over the built UI,
// as `docker run IMAGE ui` runs it, each with its own embedded store) behind one gatelog.yaml
// with `state.redis` pointing at one real redis-server. Wrong master keys spread over both
// lock the account after the free failures in total, not per process; the lock holds on
// either, even for the right key, and across a restart. With `on_failure: closed` and Redis
// gone, sign-in answers 503. Needs `pnpm --filter @gatelog/ui run build`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { killChild, killIfNotReady } from '../support/child-start.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { ROOT, freePort } from './compose-processes.ts';

const run = promisify(execFile);
const MASTER = `mk-${randomUUID()}`;
const FREE = 5; // ACCOUNT_POLICY.free in ui/src/lib/server/signin-limit.server.ts

interface UiProcess {
  base: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

let redis: RedisServer;
let dir: string;
let config: string;
const uis: UiProcess[] = [];

/** Each UI's own embedded store, with gatelog's schema (the audit rows of sign-in attempts). */
async function migratedDataDir(name: string): Promise<string> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir);
  const script = "const { StorageConfig, migrate, openStore } = await import('./core/src/index.ts'); const s = await openStore(StorageConfig.parse({}), process.env.DIR); await migrate(s); await s.close();";
  await run(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', DIR: dataDir } });
  return dataDir;
}

async function startUi(dataDir: string): Promise<UiProcess> {
  const port = await freePort();
  const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', GATELOG_CONFIG: config, GATELOG_DATA_DIR: dataDir, GATELOG_MASTER_KEY: MASTER, HOST: '127.0.0.1', PORT: String(port) };
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'docker/ui-server.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const ui: UiProcess = {
    base: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    stop: () => killChild(proc, 'SIGTERM'),
  };
  uis.push(ui);
  return killIfNotReady(proc, (async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`UI exited before it was healthy:\n${out}`);
      const ok = await fetch(`${ui.base}/healthz`).then((r) => r.ok, () => false);
      if (ok) return ui;
      if (Date.now() > deadline) throw new Error(`UI not healthy within 60 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })());
}

/** A master-key sign-in as the login form posts it: the status, Retry-After and page. */
async function signIn(ui: UiProcess, key: string): Promise<{ status: number; retryAfter: number; body: string }> {
  const r = await fetch(`${ui.base}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: ui.base },
    body: new URLSearchParams({ key, next: '/requests' }).toString(),
  });
  return { status: r.status, retryAfter: Number(r.headers.get('retry-after') ?? 0), body: await r.text() };
}

let dataDirs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-signin-shared-'));
  redis = await startRedis();
  config = join(dir, 'gatelog.yaml');
  writeFileSync(config, stringify({ state: { redis: redis.url, on_failure: 'closed' } }));
  dataDirs = await Promise.all([migratedDataDir('ui-a'), migratedDataDir('ui-b')]);
  await Promise.all(dataDirs.map((d) => startUi(d)));
}, 180_000);

afterAll(async () => {
  await Promise.all(uis.map((u) => u.stop()));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('two UI services, one Redis', () => {
  it('guesses spread over both lock the account after the free failures in total; the lock holds on both, for the right key too', async () => {
    const [a, b] = uis as [UiProcess, UiProcess];
    const statuses: number[] = [];
    for (let i = 0; i < FREE; i++) statuses.push((await signIn(i % 2 === 0 ? a : b, `wrong-${i}`)).status);
    expect(statuses, uis.map((u) => u.output()).join('\n')).toEqual([401, 401, 401, 401, 401]);
    // B saw two of the five: on its own it would still let guesses through.
    const onB = await signIn(b, 'wrong-again');
    expect(onB.status).toBe(429);
    expect(onB.retryAfter).toBeGreaterThan(0);
    expect(onB.retryAfter).toBeLessThanOrEqual(30);
    expect(onB.body).toContain('Too many failed sign-ins');
    const rightOnA = await signIn(a, MASTER);
    expect(rightOnA.status).toBe(429);
  }, 60_000);

  it('a restarted UI still holds the lock', async () => {
    const b = uis[1]!;
    await b.stop();
    const restarted = await startUi(dataDirs[1]!);
    const r = await signIn(restarted, MASTER);
    expect(r.status, restarted.output()).toBe(429);
    expect(r.retryAfter).toBeGreaterThan(0);
  }, 90_000);

  it('with Redis gone and on_failure: closed, sign-in answers 503', async () => {
    await redis.stop();
    const r = await signIn(uis[0]!, MASTER);
    expect(r.status).toBe(503);
    expect(r.retryAfter).toBeGreaterThan(0);
    expect(r.body).toContain('Sign-in is unavailable for a moment');
    expect(uis[0]!.output()).toContain('refusing sign-ins (state.on_failure: closed)');
  }, 30_000);
});

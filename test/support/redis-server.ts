// A real redis-server (Debian's package) for shared-state tests: installed idempotently when
// missing (root only; scripts/bootstrap.mjs does the same in test mode), started on a free
// loopback port with no persistence, stopped by the test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisTarget } from '../../core/src/state-config.ts';
import { createServer } from 'node:net';
import { killChild, killIfNotReady } from './child-start.ts';

const BIN = process.env['REDIS_SERVER_PATH'] ?? '/usr/bin/redis-server';

export function ensureRedisServer(): string {
  if (existsSync(BIN)) return BIN;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new Error(`${BIN} is missing: apt-get install redis-server`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { stdio: 'ignore', env });
  if (r.status !== 0 || !existsSync(BIN)) throw new Error('could not install redis-server');
  return BIN;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server with `args` and waits until it accepts connections (killed if it does not). */
async function spawnRedis(args: readonly string[]): Promise<ChildProcess> {
  const bin = ensureRedisServer();
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await killIfNotReady(proc, new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('Ready to accept connections') || out.includes('Sentinel ID is')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${out}`));
    });
  }));
  return proc;
}

const stopProc = (proc: ChildProcess): Promise<void> => killChild(proc, 'SIGTERM');

const NO_PERSISTENCE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const proc = await spawnRedis(['--port', String(port), ...NO_PERSISTENCE]);
  return { url: `redis://127.0.0.1:${port}`, port, proc, stop: () => stopProc(proc) };
}

export interface RedisCluster {
  /** One seed URL per primary. */
  urls: string[];
  nodes: RedisServer[];
  stop(): Promise<void>;
}

function redisCli(args: readonly string[]): string {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** A Redis Cluster of `primaries` nodes (no replicas) on loopback, every slot assigned. */
export async function startRedisCluster(primaries = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gl-redis-cluster-'));
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A node that fails to start stops the ones before it.
    for (let i = 0; i < primaries; i++) {
      const port = await freePort();
      const args = ['--port', String(port), ...NO_PERSISTENCE, '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000', '--dir', dir];
      const proc = await spawnRedis(args);
      nodes.push({ url: `redis://127.0.0.1:${port}`, port, proc, stop: () => stopProc(proc) });
    }
    redisCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    while (!nodes.every((n) => redisCli(['-p', String(n.port), 'cluster', 'info']).includes('cluster_state:ok'))) {
      if (Date.now() > deadline) throw new Error('redis cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: nodes.map((n) => n.url), nodes, stop };
}

export interface RedisSentinel {
  primary: RedisServer;
  /** host:port of the sentinel. */
  sentinel: string;
  /** The name the sentinel monitors the primary under. */
  name: string;
  stop(): Promise<void>;
}

/** A primary and one sentinel monitoring it (quorum 1), on loopback. */
export async function startRedisSentinel(name = 'gatelog-primary'): Promise<RedisSentinel> {
  const primary = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'gl-redis-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file: it must be its own, writable.
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`, `sentinel down-after-milliseconds ${name} 2000`, ''].join('\n'));
  let proc: ChildProcess;
  try {
    proc = await spawnRedis([conf, '--sentinel']);
  } catch (err) {
    await primary.stop();
    throw err;
  }
  return {
    primary,
    sentinel: `127.0.0.1:${port}`,
    name,
    async stop() {
      await stopProc(proc);
      await primary.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis of one kind, as `state.redis` names it, and how to stop it. */
export interface SharedRedis {
  target: RedisTarget;
  /** What must never appear in a log line (addresses that may carry a password). */
  secrets: string[];
  stop(): Promise<void>;
}

export const REDIS_TOPOLOGIES = ['one server', 'a cluster', 'sentinel'] as const;
export type RedisTopology = (typeof REDIS_TOPOLOGIES)[number];

/** One server, a three-primary cluster or a primary behind a sentinel, with its `state.redis` target. */
export async function startSharedRedis(kind: RedisTopology): Promise<SharedRedis> {
  if (kind === 'one server') {
    const r = await startRedis();
    return { target: r.url, secrets: [r.url], stop: () => r.stop() };
  }
  if (kind === 'a cluster') {
    const c = await startRedisCluster();
    return { target: { cluster: c.urls }, secrets: c.urls, stop: () => c.stop() };
  }
  const s = await startRedisSentinel();
  return { target: { sentinels: [s.sentinel], name: s.name, tls: false, db: 0 }, secrets: [s.sentinel], stop: () => s.stop() };
}

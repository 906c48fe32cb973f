// Runs docker-compose.yml's gatelog services as local processes, the way the image would run
// them: the Dockerfile's ENTRYPOINT and runtime ENV, then the service's `command` and
// `environment` (compose-interpolated). Only what names the machine is rewritten: hostnames
// and ports of the containers a fixture replaces, `/app` (the image's checkout = this one),
// data dirs, and the listening port and host (loopback here).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { killChild, killIfNotReady } from '../support/child-start.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  /** Short (`[SOURCE:]TARGET[:MODE]`) or long syntax. */
  volumes?: (string | { type?: string; source?: string; target: string })[];
}

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$$`, as docker compose interpolates. */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (m === '$$') return '$';
    const v = env[name!];
    const unset = op?.startsWith(':') ? !v : v === undefined;
    if (op?.endsWith('?') && unset) throw new Error(`compose: ${name}: ${arg || 'required'}`);
    if (op?.endsWith('-') && unset) return arg ?? '';
    return v ?? '';
  });
}

export function readCompose(env: Record<string, string | undefined>): Record<string, ComposeService> {
  const text = interpolate(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), env);
  return (parse(text, { merge: true }) as { services: Record<string, ComposeService> }).services;
}

/** Dockerfile instructions (continuation lines joined, comments dropped), by stage. */
export function dockerfileStages(text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')): { from: string; name?: string; instructions: { op: string; args: string }[] }[] {
  const stages: { from: string; name?: string; instructions: { op: string; args: string }[] }[] = [];
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const [image = '', , name] = args.split(/\s+/);
      stages.push({ from: image, ...(name ? { name } : {}), instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: upper, args });
    }
  }
  return stages;
}

/** The runtime stage's ENTRYPOINT (exec form) and ENV. */
export function imageRuntime(): { entrypoint: string[]; env: Record<string, string> } {
  const last = dockerfileStages().at(-1)!;
  const entry = last.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1);
  const env: Record<string, string> = {};
  for (const i of last.instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return { entrypoint: entry ? (JSON.parse(entry.args) as string[]) : [], env };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Replace every occurrence of each key by its value (longest keys first). */
export function rewrite(value: string, map: Record<string, string>): string {
  let out = value;
  for (const k of Object.keys(map).sort((a, b) => b.length - a.length)) out = out.split(k).join(map[k]!);
  return out;
}

export interface ServiceProcess {
  name: string;
  proc: ChildProcess;
  /** The compose health check's URL, rewritten to this process. */
  healthUrl: string;
  output(): string;
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface StartService {
  name: string;
  service: ComposeService;
  /** host:port and path rewrites applied to every env value, argument and the health URL. */
  hosts: Record<string, string>;
  /** Extra arguments appended to the command (the listening port and host). */
  listen: string[];
  /** Environment overrides (listening port and host, data dir). */
  envOver?: Record<string, string>;
}

export function startService(o: StartService): ServiceProcess {
  const image = imageRuntime();
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' };
  for (const [k, v] of Object.entries({ ...image.env, ...o.service.environment })) env[k] = rewrite(String(v), o.hosts);
  Object.assign(env, o.envOver);
  const [, ...entryArgs] = (o.service.entrypoint ?? image.entrypoint).map((a) => rewrite(a, o.hosts));
  const args = ['--disable-warning=ExperimentalWarning', ...entryArgs, ...(o.service.command ?? []).map((a) => rewrite(a, o.hosts)), ...o.listen];
  // Checked before the spawn: a throw after it would leave the process running with no handle on it.
  const test = o.service.healthcheck?.test ?? [];
  const url = test.find((a) => /^https?:\/\//.test(a));
  if (!url) throw new Error(`${o.name}: the compose health check names no URL: ${JSON.stringify(test)}`);
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    name: o.name,
    proc,
    healthUrl: rewrite(url, o.hosts),
    output: () => out,
    exited,
    kill: (signal) => killChild(proc, signal),
  };
}

/**
 * Poll the compose health check's URL until it answers 2xx (redirects are not healthy). A
 * process not healthy within `timeoutMs` is killed before this throws.
 */
export function waitHealthy(p: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  return killIfNotReady(p.proc, (async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) throw new Error(`${p.name} exited before it was healthy:\n${p.output()}`);
      const ok = await fetch(p.healthUrl, { redirect: 'manual', signal: AbortSignal.timeout(4000) }).then(async (r) => {
        await r.arrayBuffer();
        return r.ok;
      }, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${p.name} not healthy at ${p.healthUrl} within ${timeoutMs} ms:\n${p.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  })());
}

// Another proxy's governance (proxy/src/governance/runtime.ts over a shared RedisBackend, no
// store of its own) as a process of its own, for tests that kill it (SIGKILL) or stop it: the
// takeover of a gone proxy's budget costs and parallel slots. `body` runs with `g` (the
// governance) and `o` (the options, `params` included); then the process says "held" and runs
// until it is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killIfNotReady } from './child-start.ts';
import { ROOT } from './gatelog-process.ts';

export interface GovernanceChildOptions {
  redisUrl: string;
  keyPrefix: string;
  /** Milliseconds between the child's lease renewals and budget refreshes. */
  refreshMs: number;
  /** A fixed clock (epoch ms); absent: real time. */
  now?: number;
  /** Module code run once the governance is up: `g` and `o` are in scope. */
  body: string;
  /** JSON handed to `body` as `o.params`. */
  params: unknown;
}

export async function startGovernanceChild(opts: GovernanceChildOptions): Promise<ChildProcess> {
  const dir = join(ROOT, 'proxy', 'src', 'governance');
  const script = `
    import { createLogger, parseConfig } from '@gatelog/core';
    import { Registry } from 'prom-client';
    const { createGovernance } = await import(${JSON.stringify(join(dir, 'runtime.ts'))});
    const { createGovernanceMetrics } = await import(${JSON.stringify(join(dir, 'metrics.ts'))});
    const { RedisBackend } = await import(${JSON.stringify(join(dir, 'redis-backend.ts'))});
    const o = JSON.parse(process.env.GL_CHILD);
    const shared = new RedisBackend({ target: o.url, keyPrefix: o.keyPrefix });
    if (!(await shared.ready(5000))) throw new Error('Redis not reachable');
    const g = await createGovernance({
      config: parseConfig({}, 'test', {}), store: undefined, masterKey: undefined, logger: createLogger('silent'),
      metrics: createGovernanceMetrics(new Registry()), shared,
      now: o.now === undefined ? Date.now : () => o.now, baselineMs: o.refreshMs,
    });
    ${opts.body}
    process.stdout.write('held\\n');
    setInterval(() => undefined, 60_000);
  `;
  const o = { url: opts.redisUrl, keyPrefix: opts.keyPrefix, refreshMs: opts.refreshMs, now: opts.now, params: opts.params };
  // The proxy package's folder: its dependencies (@gatelog/core, prom-client) resolve from there.
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], {
    cwd: join(ROOT, 'proxy'),
    env: { ...process.env, GL_CHILD: JSON.stringify(o) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // Bounded below the tests' own timeouts, so that a child stuck before "held" is killed here.
  await killIfNotReady(proc, new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`governance child not held within 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('held\n')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`governance child exited (${code}):\n${out}`));
    });
  }));
  return proc;
}

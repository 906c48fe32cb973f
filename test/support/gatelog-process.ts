// Runs a real gatelog process (the embedded launcher, exactly as `npm start` runs it) for
// end-to-end tests: own temp data dir, port 0, logs captured for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { exited, killChild, killIfNotReady } from './child-start.ts';
import { seededDataDir } from './store-template.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GatelogProcess {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  logs(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  /** gatelog.yaml content as an object; omitted = built-in defaults (mock provider). */
  config?: object;
  env?: Record<string, string>;
  /**
   * Start from an empty environment (PATH and a fresh HOME only) instead of this process's:
   * what a pod or VM gives gatelog, so no developer credential or AWS/Google/Azure setting leaks in.
   */
  bareEnv?: boolean;
  /** An existing data dir (a restart); omitted = a fresh one whose store has the schema already (store-template.ts). */
  dataDir?: string;
  timeoutMs?: number;
}

export async function startGatelog(opts: StartOptions = {}): Promise<GatelogProcess> {
  const dataDir = opts.dataDir ?? seededDataDir('gatelog-e2e-');
  const args = ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'start', '--port', '0', '--data-dir', dataDir];
  if (opts.config) {
    const file = join(dataDir, `gatelog-${process.hrtime.bigint()}.yaml`);
    writeFileSync(file, stringify(opts.config));
    args.push('--config', file);
  }
  const env: Record<string, string> = opts.bareEnv ? { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: mkdtempSync(join(tmpdir(), 'gatelog-home-')) } : {};
  for (const [k, v] of Object.entries(opts.bareEnv ? {} : process.env)) {
    // A developer's own keys or config must not leak into a test's gatelog.
    if (v !== undefined && !k.startsWith('GATELOG_') && !k.endsWith('_API_KEY')) env[k] = v;
  }
  Object.assign(env, { GATELOG_LOG_LEVEL: 'info' }, opts.env);
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await killIfNotReady(proc, new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatelog did not start within ${opts.timeoutMs ?? 30_000} ms:\n${out}`)), opts.timeoutMs ?? 30_000);
    const onData = (): void => {
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gatelog listening"|"msg":"gatelog listening"[^\n]*"url":"(http:\/\/[^"]+)"/.exec(out);
      const found = m?.[1] ?? m?.[2];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gatelog exited (${code ?? signal}) before listening:\n${out}`));
    });
  }));
  return {
    url,
    dataDir,
    proc,
    logs: () => out,
    async stop() {
      proc.kill('SIGTERM');
      // gatelog ends itself within its grace period plus the watchdog's margin (core/src/shutdown.ts);
      // past 30 s the test fails with the process's last words instead of a bare hook timeout.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 30_000)));
      const tooLate = await Promise.race([exited(proc).then(() => false), late]);
      clearTimeout(timer);
      if (tooLate) {
        await killChild(proc);
        throw new Error(`gatelog did not exit within 30 s of SIGTERM; its last output:\n${out.slice(-4000)}`);
      }
    },
    kill9: () => killChild(proc),
  };
}

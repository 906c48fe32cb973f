// The real proxy service (`proxy/src/main.ts`) as a child process for the distributed e2e
// tests: started with a gatelog.yaml and an environment, resolved once it logs its URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { killIfNotReady } from '../support/child-start.ts';

const MAIN = resolve(import.meta.dirname, '../../proxy/src/main.ts');

export interface ProxyProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
  kill(): void;
}

function spawnProxy(configPath: string, dataDir: string, env: Record<string, string>): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN, '--config', configPath, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, GATELOG_DATA_DIR: dataDir, GATELOG_LOG_LEVEL: 'info', GATELOG_MASTER_KEY: '', GATELOG_PROXY_REPLICAS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => out, exited };
}

/** Resolves once the proxy listens; if it does not within `timeoutMs`, or exits first, it is killed and this rejects. */
export function startProxyProcess(configPath: string, dataDir: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<ProxyProcess> {
  const { proc, output, exited } = spawnProxy(configPath, dataDir, env);
  const kill = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  return killIfNotReady(proc, new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy not listening within ${timeoutMs / 1000} s:\n${output()}`)), timeoutMs);
    const poll = setInterval(() => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*gatelog proxy listening/.exec(output());
      if (!m) return;
      clearTimeout(timer);
      clearInterval(poll);
      resolveReady({ proc, url: m[1]!, output, exited, kill });
    }, 25);
    void exited.then((code) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`proxy exited (${code}) before listening:\n${output()}`));
    });
  }));
}

/** Start a proxy expected to refuse to start: its exit code and everything it printed. */
export async function failedProxyStart(configPath: string, dataDir: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { proc, output, exited } = spawnProxy(configPath, dataDir, env);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: output() };
}

// The real ingest worker (`ingest/src/main.ts`) as a child process for the distributed e2e
// tests: started with a gatelog.yaml, resolved once it logs its listening URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { killIfNotReady } from '../support/child-start.ts';

const MAIN = resolve(import.meta.dirname, '../../ingest/src/main.ts');

export interface Worker {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Resolves once the worker listens; if it does not within `timeoutMs`, or exits first, it is killed and this rejects. */
export function startWorker(configPath: string, dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Worker> {
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN, '--config', configPath, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, GATELOG_DATA_DIR: dataDir, GATELOG_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return killIfNotReady(proc, new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`ingest worker not listening within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*gatelog ingest listening|gatelog ingest listening[^\n]*"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveReady({ proc, url: (m[1] ?? m[2])!, output: () => out, exited });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ingest worker exited (${code}) before listening:\n${out}`));
    });
  }));
}

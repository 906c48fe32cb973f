// Runs the `gatelog` CLI (src/cli.ts) as a user would, in a child process with only PATH and the
// given environment: its output and exit code, whatever the code.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './gatelog-process.ts';

export interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
    });
  });
}

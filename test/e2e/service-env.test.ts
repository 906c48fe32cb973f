// Every service reads its environment through one zod schema in core (core/src/env.ts) as it
// starts: a bad variable stops the process before it listens, naming the variable and never
// echoing its value. The UI service (adapter-node's build/index.js) also refuses to start
// against a ClickHouse server without GATELOG_ADMIN_URL, its one path for writes. The proxy's
// case is in distributed-governance.test.ts. Needs the UI build (`pnpm --filter @gatelog/ui run build`).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'gatelog-service-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `args` with `env` until it exits (bounded): its exit code and everything it printed. */
function exitOf(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '', GATELOG_DATA_DIR: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => proc.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, output });
  }));
}

describe('service environments', () => {
  const serverConfig = join(dir, 'server.yaml');
  writeFileSync(serverConfig, stringify({ storage: { clickhouse: { url: 'http://127.0.0.1:1', database: 'gatelog' } }, bus: { kind: 'kafka', brokers: ['127.0.0.1:1'] } }));

  it('the ingest worker names a bad GATELOG_INGEST_PORT', { timeout: 40_000 }, async () => {
    const r = await exitOf([join(ROOT, 'ingest/src/main.ts'), '--config', serverConfig], { GATELOG_INGEST_PORT: 'eighty' });
    expect(r.code).toBe(1);
    expect(r.output).toContain('GATELOG_INGEST_PORT: expected a number');
    expect(r.output).not.toContain('eighty');
  });

  it('the UI service names a bad GATELOG_ADMIN_URL, and needs one in front of a ClickHouse server', { timeout: 60_000 }, async () => {
    const ui = join(ROOT, 'ui/build/index.js');
    const bad = await exitOf([ui], { GATELOG_ADMIN_URL: 'proxy:4000', PORT: '0', HOST: '127.0.0.1' });
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain('GATELOG_ADMIN_URL: expected an http:// or https:// URL');
    expect(bad.output).not.toContain('Listening on');
    const missing = await exitOf([ui], { GATELOG_CONFIG: serverConfig, PORT: '0', HOST: '127.0.0.1' });
    expect(missing.code).not.toBe(0);
    expect(missing.output).toContain('GATELOG_ADMIN_URL: required when the UI reads a ClickHouse server');
  });
});

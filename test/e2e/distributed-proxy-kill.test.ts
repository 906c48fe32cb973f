// The standalone proxy service (proxy/src/main.ts) with Kafka unreachable: calls are served and
// spooled; SIGKILL the proxy, bring Kafka back, start the proxy again on the same data dir,
// and every accepted call reaches ClickHouse through ingest exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { killIfNotReady } from '../support/child-start.ts';
import { eventually, startDistributed, type Distributed } from './distributed-harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');

async function startProxy(config: string, dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [join(ROOT, 'proxy/src/main.ts'), '--config', config, '--port', '0'], {
    env: { ...process.env, GATELOG_DATA_DIR: dataDir, GATELOG_LOG_LEVEL: 'info', GATELOG_MASTER_KEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await killIfNotReady(proc, new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start:\n${out}`)), 10_000);
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"gatelog proxy listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.once('exit', (code) => reject(new Error(`proxy exited (${code}):\n${out}`)));
  }));
  return { url, proc };
}

async function chat(url: string, i: number): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: `call ${i}` }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
  return res.headers.get('x-gatelog-request-id')!;
}

describe('proxy service SIGKILL with events in the spool', () => {
  let d: Distributed | undefined;
  const procs: ChildProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await d?.close();
    d = undefined;
  });

  it('replays the spool after a restart', { timeout: 30_000 }, async () => {
    d = await startDistributed();
    await d.worker();
    const config = join(d.dir, 'gatelog.yaml');
    writeFileSync(config, stringify({
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      bus: { kind: 'kafka', brokers: d.broker.brokers, topic: d.topic, request_timeout_ms: 500 },
      logging: { level: 'info', body_cap_bytes: 65536 },
    }));
    const dataDir = join(d.dir, 'proxy-data');
    await d.broker.stop(); // Kafka unreachable from the first call on
    const first = await startProxy(config, dataDir);
    procs.push(first.proc);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await chat(first.url, i));
    const exited = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await exited;
    await d.broker.restart();
    const second = await startProxy(config, dataDir);
    procs.push(second.proc);
    for (let i = 25; i < 30; i++) ids.push(await chat(second.url, i));
    await eventually('all calls in ClickHouse', async () => (await d!.counts()).rows >= ids.length, 15_000);
    const c = await d.counts();
    expect(c.rows + d.dlqKeys().length).toBe(ids.length);
    expect(c.distinct).toBe(c.rows);
    expect((await d.ids()).sort()).toEqual([...ids].sort());
  });
});

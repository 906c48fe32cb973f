// Governance in distributed mode, with real proxy service processes (proxy/src/main.ts) over
// one ClickHouse server (the chDB-backed HTTP fixture) and the Kafka broker fixture: a key
// created through one proxy with the CLI works through another; a revocation on one reaches
// the other within 5 s; ClickHouse down at start leaves the master key working and virtual
// keys refused with 503 (in each API's error shape) until ClickHouse answers; a bad
// environment variable stops start-up naming it; several replicas without Redis say so.
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStore, type Store } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker } from '../support/kafka/index.ts';
import { startRedis } from '../support/redis-server.ts';
import { startTogether } from '../support/start-together.ts';
import { failedProxyStart, startProxyProcess, type ProxyProcess } from './distributed-proxy-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MASTER = `mk-${randomUUID()}`;
const run = promisify(execFile);

/** `gatelog keys …` as users run it (a process each: slow to start on a loaded machine). */
async function cli(url: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'keys', ...args, '--url', url, '--json'], {
    env: { ...process.env, GATELOG_MASTER_KEY: MASTER },
  });
  return JSON.parse(stdout) as unknown;
}

const openai = (url: string, apiKey: string): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
const chat = (url: string, apiKey: string) => openai(url, apiKey).chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] });

/** The HTTP status a call ends with (200 or the error's). */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof OpenAI.APIError || err instanceof Anthropic.APIError) return err.status ?? -1;
    throw err;
  }
}

/** Polls until `check` holds; returns how long it took. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('proxy service with a ClickHouse server', () => {
  let broker: KafkaTestBroker;
  let ch: ClickHouseHttpFixture;
  let store: Store;
  let dir: string;
  let config: string;
  let base: Record<string, unknown>;
  /** Two proxies over the same ClickHouse, started once for the file (start-up is the slow part). */
  let a: ProxyProcess;
  let b: ProxyProcess;
  const procs: ProxyProcess[] = [];

  beforeAll(async () => {
    broker = new KafkaTestBroker();
    await broker.start();
    ch = new ClickHouseHttpFixture();
    await ch.start();
    dir = mkdtempSync(join(tmpdir(), 'gatelog-dist-gov-'));
    const database = `g_${randomUUID().replaceAll('-', '')}`;
    const topic = `events-${randomUUID()}`;
    broker.createTopic(topic, 1);
    store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
    await migrate(store);
    config = join(dir, 'gatelog.yaml');
    writeFileSync(config, stringify(base = {
      storage: { clickhouse: { url: ch.url, database } },
      bus: { kind: 'kafka', brokers: broker.brokers, topic, request_timeout_ms: 2000 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      logging: { level: 'info' },
    }));
    // proxy() keeps each one for afterAll to kill; neither is still starting when afterAll runs.
    [a, b] = await startTogether([proxy('a')], [proxy('b')]);
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) p.kill();
    await store?.close();
    await ch?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const proxy = async (name: string, env: Record<string, string> = {}, configPath = config): Promise<ProxyProcess> => {
    const p = await startProxyProcess(configPath, join(dir, name), { GATELOG_MASTER_KEY: MASTER, ...env });
    procs.push(p);
    return p;
  };

  it('shares keys across proxies: created on one, revoked on the other within 5 s', { timeout: 300_000 }, async () => {
    const created = (await cli(a.url, 'create', '--name', 'dist-app')) as { key: { id: string }; secret: string };
    expect(created.secret).toMatch(/^gl-/);

    // Proxy b learns of the key from ClickHouse on its next refresh (keys.refresh_ms, 2 s).
    const learned = await within(5000, 'key usable on proxy b', async () => (await statusOf(chat(b.url, created.secret))) === 200);
    expect((await chat(a.url, created.secret)).choices[0]?.message.content).toBeTruthy();
    // Both proxies serve the admin API from the same store.
    const listed = (await cli(b.url, 'list')) as { data: { id: string }[] };
    expect(listed.data.map((k) => k.id)).toContain(created.key.id);

    await cli(b.url, 'revoke', created.key.id);
    expect(await statusOf(chat(b.url, created.secret))).toBe(401); // at once on the proxy that wrote it
    const revoked = await within(5000, 'revocation on proxy a', async () => (await statusOf(chat(a.url, created.secret))) === 401);
    const audit = await fetch(`${a.url}/admin/audit`, { headers: { authorization: `Bearer ${MASTER}` } });
    expect(audit.status).toBe(200);
    const actions = ((await audit.json()) as { data: { action: string }[] }).data.map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['key.create', 'key.revoke']));
    console.log(`key usable on the other proxy after ${learned} ms; revocation reached it after ${revoked} ms`);
  });

  it('one person per address across proxies: concurrent creations on both give one person, the rest 409', { timeout: 120_000 }, async () => {
    const email = `ada-${randomUUID().slice(0, 8)}@example.com`;
    const create = (url: string, spelled: string): Promise<Response> => fetch(`${url}/admin/users`, {
      method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: spelled, name: 'Ada', role: 'viewer' }),
    });
    // An identity provider's retry landing on the other proxy, or two admins at once: three each.
    const spellings = [email, email.toUpperCase(), email];
    const answers = await Promise.all([...spellings.map((e) => create(a.url, e)), ...spellings.map((e) => create(b.url, e))]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    const refused = (await Promise.all(answers.filter((r) => r.status === 409).map((r) => r.json()))) as { error: { code: string; param: string } }[];
    for (const body of refused) expect(body.error).toMatchObject({ code: 'user_exists', param: 'email' });
    const listed = await fetch(`${b.url}/admin/users`, { headers: { authorization: `Bearer ${MASTER}` } });
    const people = ((await listed.json()) as { data: { email: string }[] }).data.filter((u) => u.email === email);
    expect(people).toHaveLength(1);
    // The address's turns are held in ClickHouse by its hash: the address itself is not written there.
    const rs = await store.client.query({
      query: `SELECT countIf(job = {hashed:String}) AS turns, countIf(position(job, {e:String}) > 0) AS plain FROM ${store.database}.job_lease`,
      query_params: { hashed: `person-email:${createHash('sha256').update(email).digest('hex')}`, e: email }, format: 'JSONEachRow',
    });
    const [held] = await rs.json<{ turns: number | string; plain: number | string }>();
    expect(Number(held?.turns)).toBeGreaterThanOrEqual(6);
    expect(Number(held?.plain)).toBe(0);
  });

  it('with Redis, a revocation reaches the other proxy at once, not at its next poll', { timeout: 240_000 }, async () => {
    const redis = await startRedis();
    try {
      const slowPoll = join(dir, 'gatelog-redis.yaml');
      // The longest refresh interval allowed: without the notice, the other proxy could take 5 s.
      writeFileSync(slowPoll, stringify({ ...base, state: { redis: redis.url }, keys: { refresh_ms: 5000 } }));
      const [p, q] = await startTogether([proxy('r1', {}, slowPoll)], [proxy('r2', {}, slowPoll)]);
      const created = (await cli(p.url, 'create', '--name', 'pubsub')) as { key: { id: string }; secret: string };
      const learned = await within(2000, 'new key usable on the other proxy', async () => (await statusOf(chat(q.url, created.secret))) === 200);
      await cli(p.url, 'revoke', created.key.id);
      const revoked = await within(1500, 'revocation on the other proxy', async () => (await statusOf(chat(q.url, created.secret))) === 401);
      console.log(`with Redis notices (refresh_ms 5000): new key usable after ${learned} ms, revocation after ${revoked} ms`);
    } finally {
      await redis.stop();
    }
  });

  it('ClickHouse down at start: master key works, virtual keys get 503 until the ring loads', { timeout: 180_000 }, async () => {
    const created = (await cli(a.url, 'create', '--name', 'before-outage')) as { secret: string };
    await ch.stop();
    try {
      const c = await proxy('c2');
      expect(c.output()).toContain('GATELOG_ERR_KEY_REFRESH');
      expect(await statusOf(chat(c.url, MASTER))).toBe(200);
      // OpenAI shape on the OpenAI routes…
      const res = await fetch(`${c.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('keys_unavailable');
      // …Anthropic's on /v1/messages.
      const msg = await fetch(`${c.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': created.secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'mock-chat', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(msg.status).toBe(503);
      expect(await msg.json()).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.stringContaining('not loaded') } });
      // Never opens up: an unknown key is not waved through either.
      expect(await statusOf(chat(c.url, `gl-${'x'.repeat(43)}`))).toBe(503);

      await ch.restart();
      await within(10_000, 'virtual key usable once ClickHouse answers', async () => (await statusOf(chat(c.url, created.secret))) === 200);
      expect(await statusOf(chat(c.url, `gl-${'x'.repeat(43)}`))).toBe(401);
    } finally {
      if (!ch.running) await ch.restart();
    }
  });

  it('fails start naming a bad environment variable', { timeout: 180_000 }, async () => {
    const r = await failedProxyStart(config, join(dir, 'bad'), { GATELOG_MASTER_KEY: MASTER, GATELOG_PROXY_REPLICAS: 'three' });
    expect(r.code).toBe(1);
    expect(r.output).toContain('GATELOG_PROXY_REPLICAS');
    expect(r.output).not.toContain(MASTER);
    const short = await failedProxyStart(config, join(dir, 'bad2'), { GATELOG_MASTER_KEY: 'short' });
    expect(short.code).toBe(1);
    expect(short.output).toMatch(/GATELOG_MASTER_KEY: must be at least 8 characters/);
  });

  it('says loudly that limits are per replica when several run without Redis', { timeout: 180_000 }, async () => {
    const p = await proxy('replicas', { GATELOG_PROXY_REPLICAS: '3' });
    expect(p.output()).toMatch(/"level":40[^\n]*GATELOG_WARN_NO_SHARED_STATE[^\n]*PER REPLICA/);
    // Proxies a and b run with the default of one replica: no warning.
    expect(a.output()).not.toContain('GATELOG_WARN_NO_SHARED_STATE');
  });
});

// The distributed topology of docker-compose.yml, as local processes: each gatelog service's
// command and environment read from the compose file and the image's entrypoint and ENV from
// the Dockerfile — 2 proxies, 2 ingest workers, 1 UI — with the Kafka broker fixture, the
// ClickHouse HTTP fixture (behind the users of docker/clickhouse/users.d/gatelog.xml) and a
// real redis-server in place of those containers. Only hostnames, ports and data dirs are
// rewritten. Then, as an operator and their users would: a key created with the CLI on proxy 1
// works through proxy 2 (openai SDK); rpm and budget hold across both proxies; a revocation on
// proxy 2 reaches both within 5 s; the UI service shows the call and the key's spend, reading
// as the read-only user and writing through the admin API; an ingest worker killed with
// SIGKILL mid-load loses and duplicates nothing.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, openStore, type Store } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker } from '../support/kafka/index.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { startTogether } from '../support/start-together.ts';
import { ClickHouseUserGate, usersFromXml } from './clickhouse-users.ts';
import { ROOT, freePort, readCompose, startService, waitHealthy, type ServiceProcess } from './compose-processes.ts';

const run = promisify(execFile);
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results');
const MASTER = `mk-${randomUUID()}`;
/** What an operator puts in .env next to docker-compose.yml. */
const HOST_ENV: Record<string, string> = {
  GATELOG_MASTER_KEY: MASTER,
  GATELOG_CLICKHOUSE_PASSWORD: `rw-${randomUUID()}`,
  GATELOG_CLICKHOUSE_UI_PASSWORD: `ro-${randomUUID()}`,
};
const services = readCompose(HOST_ENV);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let broker: KafkaTestBroker;
let ch: ClickHouseHttpFixture;
let gate: ClickHouseUserGate;
let redis: RedisServer;
let store: Store;
let browser: Browser;
let dir: string;
const procs: ServiceProcess[] = [];
const url = { proxy1: '', proxy2: '', ui: '', ingest1: '', ingest2: '' };
let ingest1: ServiceProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-topology-'));
  mkdirSync(SHOTS, { recursive: true });
  const { config } = loadConfig({ path: join(ROOT, 'docker/gatelog.distributed.yaml'), env: HOST_ENV });
  if (config.bus.kind !== 'kafka') throw new Error('the compose config must use Kafka');
  broker = new KafkaTestBroker();
  ch = new ClickHouseHttpFixture();
  // If one fails, those that started are stopped once all have settled (broker and ch by afterAll).
  [redis, browser] = await startTogether(
    [startRedis(), (r) => r.stop()],
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [broker.start()],
    [ch.start()],
  );
  // kafka-init's topics (docker/kafka-init.sh), with room for two workers.
  broker.createTopic(config.bus.topic, 4);
  broker.createTopic(config.bus.dead_letter_topic, 1);
  gate = new ClickHouseUserGate(ch.url, usersFromXml(), HOST_ENV);
  await gate.start();
  store = await openStore({ clickhouse: { url: ch.url, database: 'gatelog', username: 'default', password: '' }, database: 'gatelog' }, dir);

  const [p1, p2, i1, i2, u] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  Object.assign(url, { proxy1: `http://127.0.0.1:${p1}`, proxy2: `http://127.0.0.1:${p2}`, ingest1: `http://127.0.0.1:${i1}`, ingest2: `http://127.0.0.1:${i2}`, ui: `http://127.0.0.1:${u}` });
  // The containers the fixtures replace, the image's checkout, and proxy 1 as "the proxy".
  const hosts = (name: string, from: string, port: number): Record<string, string> => ({
    'kafka:9092': broker.brokers[0]!,
    'http://clickhouse:8123': gate.url,
    'redis://redis:6379': redis.url,
    'http://proxy:4000': url.proxy1,
    '/app/': `${ROOT}/`,
    '/var/lib/gatelog': join(dir, name),
    [`127.0.0.1:${from}`]: `127.0.0.1:${port}`,
  });
  const loop = (port: number): string[] => ['--port', String(port), '--host', '127.0.0.1'];
  const start = (name: string, service: string, from: number, port: number, envOver: Record<string, string> = {}): ServiceProcess => {
    const s = services[service];
    if (!s) throw new Error(`docker-compose.yml has no ${service} service`);
    mkdirSync(join(dir, name)); // the image's /var/lib/gatelog
    const p = startService({ name, service: s, hosts: hosts(name, String(from), port), listen: service === 'ui' ? [] : loop(port), envOver });
    procs.push(p);
    return p;
  };
  // In depends_on order: ingest (applies the migrations), then proxies, then the UI.
  ingest1 = start('ingest-1', 'ingest', 4001, i1, { GATELOG_INGEST_PORT: String(i1) });
  const ingest2 = start('ingest-2', 'ingest', 4001, i2, { GATELOG_INGEST_PORT: String(i2) });
  await Promise.all([waitHealthy(ingest1), waitHealthy(ingest2)]);
  const proxies = [start('proxy-1', 'proxy', 4000, p1), start('proxy-2', 'proxy', 4000, p2)];
  await Promise.all(proxies.map((p) => waitHealthy(p)));
  await waitHealthy(start('ui', 'ui', 3000, u, { PORT: String(u), HOST: '127.0.0.1' }));
}, 240_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGTERM')));
  await browser?.close();
  await store?.close();
  await gate?.close();
  await redis?.stop();
  await broker?.stop();
  await ch?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

function logs(): string {
  return procs.map((p) => `---- ${p.name}\n${p.output().slice(-3000)}`).join('\n');
}

/** `node src/cli.ts keys …` as an operator types it. */
async function cli(...args: string[]): Promise<{ key: { id: string }; secret?: string }> {
  const { stdout } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/cli.ts', 'keys', ...args, '--json'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', GATELOG_MASTER_KEY: MASTER },
  });
  return JSON.parse(stdout) as { key: { id: string }; secret?: string };
}

const client = (base: string, key: string): OpenAI => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 15_000 });

/** A chat call's HTTP status (the SDK throws APIError for non-2xx). */
async function status(base: string, key: string, body: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}, headers: Record<string, string> = {}): Promise<number> {
  try {
    await client(base, key).chat.completions.create({ model: 'mock-chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...body }, { headers });
    return 200;
  } catch (err) {
    if (err instanceof OpenAI.APIError && typeof err.status === 'number') return err.status;
    throw err;
  }
}

/** Until `base` knows the key (GET /v1/models authenticates without spending any limit). */
async function known(base: string, secret: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    await r.arrayBuffer();
    if (r.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${base} still answers ${r.status} for a new key after 5 s\n${logs()}`);
    await sleep(100);
  }
}

async function createKey(...flags: string[]): Promise<{ id: string; secret: string }> {
  const r = await cli('create', '--name', `topology-${randomUUID().slice(0, 8)}`, ...flags, '--url', url.proxy1);
  expect(r.secret).toMatch(/^gl-/);
  await Promise.all([known(url.proxy1, r.secret!), known(url.proxy2, r.secret!)]);
  return { id: r.key.id, secret: r.secret! };
}

/** Calls alternating between the proxies, one at a time: the statuses in order. */
async function alternate(secret: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await status(i % 2 === 0 ? url.proxy1 : url.proxy2, secret));
  return out;
}

const marker = `topology-${randomUUID()}`;
let requestId = '';
let budgetKey = { id: '', secret: '' };

describe('docker-compose topology as local processes: 2 proxies, 2 ingest workers, 1 UI', () => {
  it('a key created with the CLI on proxy 1 answers through proxy 2 (openai SDK)', async () => {
    const { secret } = await createKey();
    const { data, response } = await client(url.proxy2, secret).chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: marker }] }).withResponse();
    expect(data.choices[0]?.message.content).toContain(marker);
    requestId = response.headers.get('x-gatelog-request-id') ?? '';
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  }, 120_000);

  it("holds the key's rpm across both proxies (successes = the limit)", async () => {
    const { secret } = await createKey('--rpm', '4');
    // Eight calls well inside the minute the limit counts over.
    const statuses = await alternate(secret, 8);
    expect(statuses, statuses.join(',')).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  }, 120_000);

  it("holds the key's budget across both proxies", async () => {
    // Each call costs $0.005 (5 output tokens at $1000/M) and reserves $0.01 (max_tokens 10):
    // $0.022 admits exactly three, wherever they land; per-replica counters would admit six.
    budgetKey = await createKey('--budget', '0.022');
    const statuses = await alternate(budgetKey.secret, 10);
    expect(statuses, statuses.join(',')).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
  }, 120_000);

  it('a revocation on proxy 2 answers 401 on both proxies within 5 s', async () => {
    const { id, secret } = await createKey();
    expect(await status(url.proxy1, secret)).toBe(200);
    // From the moment proxy 2 has acknowledged the revocation (the CLI has returned).
    await cli('revoke', id, '--url', url.proxy2);
    const t0 = Date.now();
    const took: number[] = [];
    for (const base of [url.proxy2, url.proxy1]) {
      while ((await status(base, secret)) !== 401) {
        expect(Date.now() - t0, `${base} still admits a revoked key`).toBeLessThan(5000);
        await sleep(100);
      }
      took.push(Date.now() - t0);
    }
    console.log(`topology: revoked key refused by proxy 2 after ${took[0]} ms, by proxy 1 after ${took[1]} ms`);
  }, 120_000);

  it("the UI service shows the call and the key's spend, reads as gatelog_ui and writes through the admin API", async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(`${url.ui}/login?next=${encodeURIComponent('/keys')}`);
      await page.fill('#key', MASTER);
      await Promise.all([page.waitForURL(`${url.ui}/keys`), page.click('form:has(#key) button[type=submit]')]).catch(async (err: unknown) => {
        const refused = gate.records.filter((r) => r.refused).map((r) => `${r.user}: ${r.statement}`);
        throw new Error(`sign-in failed (${String(err)}); page says: ${await page.locator('[role=alert]').allTextContents()}; ClickHouse refused: ${refused.join(' | ')}\n${logs()}`);
      });
      // Ingest is asynchronous: poll, bounded.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const res = await page.goto(`${url.ui}/requests/${requestId}`);
        if (res?.status() === 200 && (await page.content()).includes(marker)) break;
        if (Date.now() > deadline) throw new Error(`call ${requestId} never appeared in the UI\n${logs()}`);
        await sleep(500);
      }
      await page.screenshot({ path: join(SHOTS, 'topology-request.png'), fullPage: true });
      const spend = page.locator(`tr[data-key-id="${budgetKey.id}"] [data-testid=spend]`);
      for (;;) {
        await page.goto(`${url.ui}/keys`);
        if ((await spend.textContent())?.includes('$0.0150')) break;
        if (Date.now() > deadline) throw new Error(`spend never reached $0.0150: ${await spend.textContent()}`);
        await sleep(500);
      }
      expect(await spend.textContent()).toMatch(/\$0\.0150\s*\/\s*\$0\.0220/);
      await page.screenshot({ path: join(SHOTS, 'topology-keys.png'), fullPage: true });

      // A write from the UI (create a key) lands through the proxy's admin API and works.
      await page.click('.key-new summary');
      await page.fill('input[name=name]', `ui-${randomUUID().slice(0, 8)}`);
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=key-create] button[type=submit]')]);
      const secret = await page.inputValue('[data-testid=key-secret]');
      await known(url.proxy2, secret);
      expect(await status(url.proxy2, secret)).toBe(200);

      // A person added on the People page is written through the admin API too (the UI may only read).
      await page.goto(`${url.ui}/people`);
      const email = `ui-${randomUUID().slice(0, 8)}@example.com`;
      await page.fill('#new-email', email);
      await page.selectOption('#new-role', 'analyst');
      await Promise.all([page.waitForLoadState('load'), page.click('form[action="?/create"] button[type=submit]')]);
      expect(await page.textContent('[data-testid=sign-in-link]')).toContain(`${url.ui}/login/invite?token=`);
      const people = await fetch(`${url.proxy1}/admin/users`, { headers: { authorization: `Bearer ${MASTER}` } });
      expect(((await people.json()) as { data: { email: string; role: string }[] }).data).toContainEqual(expect.objectContaining({ email, role: 'analyst' }));

      // An export streams from ClickHouse; its audit row is written through the admin API.
      const exported = await page.request.get(`${url.ui}/export?format=jsonl`);
      expect(exported.status()).toBe(200);
      expect(await exported.text()).toContain(marker);
      const audited = async (): Promise<number> => {
        const r = await fetch(`${url.proxy1}/admin/audit?action=export.run`, { headers: { authorization: `Bearer ${MASTER}` } });
        return r.ok ? ((await r.json()) as { data: unknown[] }).data.length : -r.status;
      };
      for (let n = await audited(); n < 1; n = await audited()) {
        if (Date.now() > deadline + 15_000) throw new Error(`no export.run audit row (last answer ${n})`);
        await sleep(250);
      }
    } finally {
      await page.close();
    }
    const ui = gate.records.filter((r) => r.user === 'gatelog_ui');
    expect(ui.length).toBeGreaterThan(0);
    expect(ui.filter((r) => r.refused), 'the UI tried to write to ClickHouse as its read-only user').toEqual([]);
    expect(new Set(gate.records.map((r) => r.user))).toEqual(new Set(['gatelog', 'gatelog_ui']));
  }, 120_000);

  it('kill -9 of one ingest worker mid-load: every call stored exactly once', async () => {
    const { secret } = await createKey();
    const user = `load-${randomUUID()}`;
    const ids: string[] = [];
    const load = async (n: number, afterEach?: (done: number) => Promise<void>): Promise<void> => {
      let next = 0;
      let done = 0;
      await Promise.all(Array.from({ length: 6 }, async (_, w) => {
        while (next < n) {
          next++;
          const { response } = await client(w % 2 === 0 ? url.proxy1 : url.proxy2, secret)
            .chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: `load ${next}` }] }, { headers: { 'x-gatelog-user': user } })
            .withResponse();
          ids.push(response.headers.get('x-gatelog-request-id')!);
          await afterEach?.(++done);
        }
      }));
    };
    const rowsTotal = async (base: string): Promise<number> => {
      // The workers have the compose file's master key: their /metrics takes it, as the proxies' does.
      const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } })).text();
      const line = text.split('\n').find((l) => l.startsWith('gatelog_ingest_rows_total '));
      return Number(line?.split(' ')[1] ?? 0);
    };
    // Both workers own partitions and are writing before one dies.
    await load(60);
    const deadline = Date.now() + 30_000;
    while ((await rowsTotal(url.ingest1)) === 0 || (await rowsTotal(url.ingest2)) === 0) {
      if (Date.now() > deadline) throw new Error(`a worker never wrote a row\n${logs()}`);
      await sleep(200);
    }
    let killed: Promise<void> | undefined;
    await load(240, async (done) => {
      if (done === 80) killed = ingest1.kill('SIGKILL');
    });
    await killed;
    expect(ingest1.proc.signalCode).toBe('SIGKILL');
    expect(ids).toHaveLength(300);

    const counts = async (): Promise<{ rows: number; distinct: number; raw: number }> => {
      const rs = await store.client.query({
        query: 'SELECT (SELECT count() FROM gatelog.llm_calls FINAL WHERE user = {u:String}) AS rows, (SELECT uniqExact(request_id) FROM gatelog.llm_calls WHERE user = {u:String}) AS distinct, (SELECT count() FROM gatelog.llm_calls WHERE user = {u:String}) AS raw',
        query_params: { u: user },
        format: 'JSONEachRow',
      });
      const [r] = await rs.json<{ rows: string; distinct: string; raw: string }>();
      return { rows: Number(r?.rows), distinct: Number(r?.distinct), raw: Number(r?.raw) };
    };
    const until = Date.now() + 90_000;
    let c = await counts();
    while (c.distinct < ids.length && Date.now() < until) {
      await sleep(500);
      c = await counts();
    }
    expect(c.distinct, logs()).toBe(ids.length);
    expect(c.rows).toBe(ids.length);
    const rs = await store.client.query({ query: 'SELECT toString(request_id) AS id FROM gatelog.llm_calls FINAL WHERE user = {u:String}', query_params: { u: user }, format: 'JSONEachRow' });
    expect(new Set((await rs.json<{ id: string }>()).map((r) => r.id))).toEqual(new Set(ids));
    console.log(`topology: ${ids.length} calls, ${c.raw} raw rows before merges, ${c.rows} rows read with FINAL`);
  }, 180_000);
});

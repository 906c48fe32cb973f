// Feedback in the distributed shape: the real proxy service (proxy/src/main.ts) and ingest worker
// (ingest/src/main.ts) over the Kafka broker fixture and one ClickHouse server (the chDB-backed
// HTTP fixture). A key scores its call through the proxy before ingest stored it, the score is
// written to ClickHouse by the proxy (as the audit trail is) and read back with the call; while
// ClickHouse is down the proxy answers 503 in OpenAI's error shape instead of acknowledging.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStore, type Store } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker } from '../support/kafka/index.ts';
import { startProxyProcess, type ProxyProcess } from './distributed-proxy-process.ts';
import { startWorker, type Worker } from './distributed-worker-process.ts';
import { startTogether } from '../support/start-together.ts';
import { newVirtualKey } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;

describe('feedback with Kafka and a ClickHouse server', () => {
  let broker: KafkaTestBroker;
  let ch: ClickHouseHttpFixture;
  let store: Store;
  let dir: string;
  let database: string;
  let proxy: ProxyProcess;
  let worker: Worker;

  beforeAll(async () => {
    broker = new KafkaTestBroker();
    ch = new ClickHouseHttpFixture();
    await Promise.all([broker.start(), ch.start()]);
    dir = mkdtempSync(join(tmpdir(), 'gatelog-dist-feedback-'));
    database = `g_${randomUUID().replaceAll('-', '')}`;
    const topic = `events-${randomUUID()}`;
    broker.createTopic(topic, 1);
    store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
    await migrate(store);
    const config = join(dir, 'gatelog.yaml');
    writeFileSync(config, stringify({
      storage: { clickhouse: { url: ch.url, database } },
      ingest: { batch_ms: 50 },
      bus: { kind: 'kafka', brokers: broker.brokers, topic, group_id: `ingest-${randomUUID()}`, request_timeout_ms: 2000 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      logging: { level: 'info' },
    }));
    [proxy, worker] = await startTogether(
      [startProxyProcess(config, join(dir, 'proxy'), { GATELOG_MASTER_KEY: MASTER }), (p) => p.kill()],
      [startWorker(config, join(dir, 'ingest'), { GATELOG_MASTER_KEY: MASTER }), (w) => w.proc.kill('SIGKILL')],
    );
  }, 240_000);

  afterAll(async () => {
    proxy?.kill();
    if (worker && worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill('SIGKILL');
    await store?.close();
    await ch?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const http = (path: string, token: string, body?: unknown): Promise<Response> =>
    fetch(`${proxy.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('stores a key\'s score through the proxy and reads it with the call; 503 while ClickHouse is down', { timeout: 180_000 }, async () => {
    const secret = await newVirtualKey(proxy.url, MASTER, 'dist-feedback', 'red');
    const openai = new OpenAI({ apiKey: secret, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
    const r = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const id = r.response.headers.get('x-gatelog-request-id')!;
    const sent = await http('/v1/feedback', secret, { request_id: id, value: -1, comment: 'off topic' });
    expect(sent.status, await sent.clone().text()).toBe(200);
    // In ClickHouse at once, written by the proxy itself (the call follows through Kafka and ingest).
    const rs = await store.client.query({ query: `SELECT request_id, value, comment, source FROM ${database}.call_feedback FINAL`, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ request_id: id, value: -1, comment: 'off topic', source: 'api' }]);
    // Gathered by the server with other single-row writes, answered once stored.
    expect(ch.requests.find((q) => q.query.startsWith('INSERT') && q.query.includes('call_feedback'))?.settings).toMatchObject({ async_insert: '1', wait_for_async_insert: '1' });
    let call: { feedback?: { value: number; comment: string }[] } = {};
    for (let i = 0; i < 300 && !call.feedback; i++) {
      const got = await http(`/admin/calls/${id}`, MASTER);
      if (got.status === 200) call = (await got.json()) as typeof call;
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(call.feedback, `${proxy.output()}\n${worker.output()}`).toMatchObject([{ value: -1, comment: 'off topic' }]);
    const listed = (await (await http('/admin/calls?feedback=negative', MASTER)).json()) as { data: { request_id: string }[] };
    expect(listed.data.map((x) => x.request_id)).toEqual([id]);

    await ch.stop();
    try {
      const down = await http('/v1/feedback', secret, { request_id: id, value: 1 });
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ error: { code: 'store_unavailable', type: 'service_unavailable' } });
    } finally {
      await ch.restart();
    }
  });
});

// The standalone proxy service for distributed mode: `node proxy/src/main.ts [--config PATH]
// [--port N] [--host H]`. A thin shell over buildProxy (the factory the embedded launcher
// composes too): events go to Kafka through the on-disk spool under `<GATELOG_DATA_DIR>/spool`;
// with storage.clickhouse.url every proxy loads the key ring and budget baselines from
// ClickHouse and serves the admin API (/admin/keys, /admin/audit, /admin/calls); counters are
// shared through Redis when state.redis is set.
//
// Environment (core/src/env.ts, ProxyEnv): GATELOG_CONFIG, GATELOG_DATA_DIR,
// GATELOG_MASTER_KEY, GATELOG_LOG_LEVEL, GATELOG_PROXY_REPLICAS; plus whatever gatelog.yaml
// references as ${VAR}.
// First: V8 settings that must be in place before anything else loads.
import '@gatelog/core/heap-tuning';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, GATELOG_VERSION, createLogger, loadConfig, openStore, spoolDirOf, startRetention, type Logger, type Store } from '@gatelog/core';
import { proxyEnv } from '@gatelog/core/env';
import { exitOnSignals } from '@gatelog/core/shutdown';
import { DataDirLockedError, lockDataDir } from '@gatelog/core/data-dir-lock';
import type { RedisTarget } from '@gatelog/core/state-config';
import { buildProxy } from './app.ts';
import { createKafkaPublisher } from './publish/kafka.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function warnSharedState(logger: Logger, replicas: number, redis: RedisTarget | undefined): void {
  if (replicas > 1 && !redis) {
    logger.warn(
      { replicas, code: 'GATELOG_WARN_NO_SHARED_STATE' },
      `GATELOG_PROXY_REPLICAS is ${replicas} but state.redis is not set: rate limits, parallel limits and budget reservations hold PER REPLICA (a key can get up to ${replicas}x its limits). Set state.redis to share them.`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const { vars: env, raw } = proxyEnv();
  const { config, file } = loadConfig({ path: values.config ?? env.GATELOG_CONFIG, env: raw });
  const bus = config.bus;
  if (bus.kind !== 'kafka') throw new ConfigError(`${file ?? '(built-in defaults)'}: bus.kind: the proxy service needs bus.kind "kafka" (use \`gatelog start\` for the embedded mode)`);
  const logger = createLogger(env.GATELOG_LOG_LEVEL ?? config.logging.level);
  const masterKey = env.GATELOG_MASTER_KEY;
  const dataDir = resolve(env.GATELOG_DATA_DIR);
  // One process per data dir: two proxies appending to one spool would corrupt it.
  mkdirSync(dataDir, { recursive: true });
  const lock = await lockDataDir(dataDir);
  const host = values.host ?? config.server.host ?? (masterKey ? '0.0.0.0' : '127.0.0.1');
  if (!masterKey && !LOOPBACK.has(host)) throw new ConfigError(`server.host: refusing to listen on ${host} without GATELOG_MASTER_KEY`);
  const port = values.port !== undefined ? Number(values.port) : config.server.port;

  // The ClickHouse server holds keys, budgets' spend and the audit log. Opening the client does
  // not connect: a server that is down at start is retried by the key refresh.
  let store: Store | undefined;
  if (config.storage.clickhouse === 'embedded') {
    logger.warn({ code: 'GATELOG_WARN_NO_STORE' }, 'storage.clickhouse.url is not set: virtual keys, budgets and the admin API are off on this proxy (only the master key authenticates)');
  } else {
    store = await openStore(config.storage, dataDir);
  }
  warnSharedState(logger, env.GATELOG_PROXY_REPLICAS, config.state.redis);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const publisher = createKafkaPublisher({
    brokers: bus.brokers,
    clientId: bus.client_id,
    requestTimeoutMs: bus.request_timeout_ms,
    topic: bus.topic,
    compression: bus.compression,
    spoolDir: spoolDirOf(dataDir),
    spoolMaxBytes: bus.spool_max_bytes,
    batchMs: bus.batch_ms,
    batchRecords: bus.batch_records,
    batchBytes: bus.batch_bytes,
    sendTimeoutMs: bus.request_timeout_ms * 2,
    logger,
    registry,
  });
  // The spool holds call events while Kafka is away: erasures scrub it (POST /admin/erase on this
  // proxy at once, those asked through another proxy by the erasure watch), and the sweep empties
  // bodies older than the body period there, except those of held calls. TTLs and legal-hold
  // marks in ClickHouse are the ingest service's job: the sweep only reads the active holds.
  const retention = await startRetention({ holdsStore: store, retention: config.retention, dataDir, logger });
  const app = await buildProxy({ config, publish: publisher.publish, publishBatched: publisher.publishBatched, logger, registry, masterKey, store, dataDir, readiness: publisher.readiness });
  await app.listen({ port, host });
  const addr = app.server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  logger.info({ url: `http://${shown}:${actual}`, version: GATELOG_VERSION, topic: bus.topic, spool: spoolDirOf(dataDir), store: store ? 'clickhouse' : null }, 'gatelog proxy listening');

  // Stop accepting and finish requests in flight, then give Kafka a moment to take the spool.
  exitOnSignals(logger, async () => {
    await app.close();
    retention.stop();
    await publisher.close(5000);
    await store?.close();
    lock.release();
  }, { graceMs: 15_000 });
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `gatelog proxy: configuration error\n${err.message}\n` : err instanceof DataDirLockedError ? `gatelog proxy: ${err.message}\n` : `gatelog proxy: ${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});

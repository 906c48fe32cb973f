// The standalone ingest worker for distributed mode: `node ingest/src/main.ts [--config PATH]
// [--port N] [--host H]`. A thin shell over createIngest (the factory the embedded launcher
// composes too): consumes the events topic in a consumer group and writes ClickHouse (a server
// via storage.clickhouse.url) in batches of ingest.batch_rows / ingest.batch_ms; applies the
// schema migrations; serves /healthz (liveness), /readyz (readiness: Kafka and ClickHouse) and
// /metrics on its own port (http.ts). Run as many as the topic has partitions.
//
// Environment (core/src/env.ts, IngestEnv): GATELOG_CONFIG, GATELOG_DATA_DIR, GATELOG_LOG_LEVEL,
// GATELOG_MASTER_KEY (then /metrics needs it, as the proxy's does; /healthz and /readyz stay open),
// GATELOG_INGEST_PORT (default 4001), GATELOG_INGEST_HOST (default 0.0.0.0),
// GATELOG_INGEST_SESSION_TIMEOUT_MS (consumer group session timeout; kafkajs default 30 s);
// plus whatever gatelog.yaml references as ${VAR}.
// First: V8 settings that must be in place before anything else loads.
import '@gatelog/core/heap-tuning';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, GATELOG_VERSION, createLogger, loadConfig, migrate, openStore, startRetention } from '@gatelog/core';
import { ingestEnv } from '@gatelog/core/env';
import { createHostCheck } from '@gatelog/core/allowed-hosts';
import { kafkaLogCreator } from '@gatelog/core/bus/kafka-logs';
import { exitOnSignals } from '@gatelog/core/shutdown';
import { ingestHttpHandler } from './http.ts';
import { createIngest } from './ingest.ts';
import { startAlerts } from '@gatelog/core/alerts/evaluator';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const { vars: env, raw } = ingestEnv();
  const { config, file } = loadConfig({ path: values.config ?? env.GATELOG_CONFIG, env: raw });
  const bus = config.bus;
  if (bus.kind !== 'kafka') throw new ConfigError(`${file ?? '(built-in defaults)'}: bus.kind: the ingest service needs bus.kind "kafka"`);
  const logger = createLogger(env.GATELOG_LOG_LEVEL ?? config.logging.level).child({ service: 'gatelog-ingest' });
  const port = values.port !== undefined ? Number(values.port) : env.GATELOG_INGEST_PORT;
  const host = values.host ?? env.GATELOG_INGEST_HOST;

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const store = await openStore(config.storage, resolve(env.GATELOG_DATA_DIR));
  const applied = await migrate(store);
  if (applied.length) logger.info({ applied }, 'schema migrations applied');
  // Retention TTLs on the server's tables and legal-hold marks (dead letters live in Kafka here).
  const retention = await startRetention({ store, retention: config.retention, auditSinks: config.audit.sinks.map((s) => s.name), logger });
  const kafka = new Kafka({ clientId: `${bus.client_id}-ingest`, brokers: bus.brokers, requestTimeout: bus.request_timeout_ms, logLevel: logLevel.WARN, logCreator: kafkaLogCreator(logger) });
  // How soon the group reassigns a dead worker's partitions.
  const sessionTimeout = env.GATELOG_INGEST_SESSION_TIMEOUT_MS;
  const consumer = sessionTimeout ? { sessionTimeout, heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(sessionTimeout / 3))) } : {};
  const ingest = await createIngest({ config, store, logger, registry, source: { kind: 'kafka', kafka, consumer } });
  // ingest_lag alert rules measure this worker's own lag (the proxies evaluate every other kind).
  const alerts = startAlerts({ store, config: config.alerts, teams: config.teams, logger, metrics: registry, shared: true, processOnly: true, instance: `${hostname()}/ingest` });

  const server = createServer(ingestHttpHandler({
    healthy: () => ingest.healthy(),
    readiness: () => ingest.readiness(),
    registry,
    masterKey: env.GATELOG_MASTER_KEY,
    // The proxy's rule (server.allowed_hosts; without a master key, the loopback names).
    hostCheck: createHostCheck(config.server.allowed_hosts, !env.GATELOG_MASTER_KEY),
  }));
  await new Promise<void>((r) => server.listen(port, host, r));
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  logger.info({ url: `http://127.0.0.1:${actual}`, version: GATELOG_VERSION, topic: bus.topic, group: bus.group_id, batch_rows: config.ingest.batch_rows, batch_ms: config.ingest.batch_ms }, 'gatelog ingest listening');
  if (!env.GATELOG_MASTER_KEY) logger.warn({ code: 'GATELOG_WARN_OPEN_METRICS' }, 'GATELOG_MASTER_KEY is not set: /metrics on this worker answers anyone who can reach its port (set it to require the master key, as the proxies do)');

  exitOnSignals(logger, async () => {
    await alerts.stop();
    await ingest.stop();
    retention.stop();
    await store.close();
    server.close();
  }, { graceMs: 20_000, message: 'shutting down: finishing the batch in hand' });
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `gatelog ingest: configuration error\n${err.message}\n` : `gatelog ingest: ${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});

// The standalone ingest worker for distributed mode: `node ingest/src/main.ts [--config PATH]
// [--port N]`. Consumes the events topic in a consumer group and writes ClickHouse (a server
// via storage.clickhouse.url); serves /healthz and /metrics on its own port (default 4001,
// GATELOG_INGEST_PORT). Run as many as the topic has partitions. GATELOG_INGEST_SESSION_TIMEOUT_MS
// sets the consumer group session timeout (kafkajs default 30 s).
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type logCreator } from 'kafkajs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, GATELOG_VERSION, createLogger, loadConfig, migrate, openStore, type Logger } from '@gatelog/core';
import { startKafkaIngest } from './kafka-consumer.ts';

function kafkaLogs(logger: Logger): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    if (level === logLevel.ERROR) logger.error({ kafka: namespace, ...extra }, message);
    else if (level === logLevel.WARN) logger.warn({ kafka: namespace, ...extra }, message);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const env = process.env;
  const { config, file } = loadConfig({ path: values.config, env });
  const bus = config.bus;
  if (bus.kind !== 'kafka') throw new ConfigError(`${file ?? '(built-in defaults)'}: bus.kind: the ingest service needs bus.kind "kafka"`);
  const logger = createLogger(env['GATELOG_LOG_LEVEL'] || config.logging.level).child({ service: 'gatelog-ingest' });
  const port = Number(values.port ?? env['GATELOG_INGEST_PORT'] ?? 4001);
  const host = values.host ?? env['GATELOG_INGEST_HOST'] ?? '0.0.0.0';

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const store = await openStore(config.storage, resolve(env['GATELOG_DATA_DIR'] || './data'));
  const applied = await migrate(store);
  if (applied.length) logger.info({ applied }, 'schema migrations applied');
  const kafka = new Kafka({ clientId: `${bus.client_id}-ingest`, brokers: bus.brokers, requestTimeout: bus.request_timeout_ms, logLevel: logLevel.WARN, logCreator: kafkaLogs(logger) });
  // How soon the group reassigns a dead worker's partitions (kafkajs' default is 30 s).
  const sessionTimeout = Number(env['GATELOG_INGEST_SESSION_TIMEOUT_MS'] || 0);
  const consumer = sessionTimeout > 0 ? { sessionTimeout, heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(sessionTimeout / 3))) } : {};
  const ingest = await startKafkaIngest({ kafka, topic: bus.topic, groupId: bus.group_id, deadLetterTopic: bus.dead_letter_topic, store, logger, registry, consumer });

  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      const ok = ingest.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  logger.info({ url: `http://127.0.0.1:${actual}`, version: GATELOG_VERSION, topic: bus.topic, group: bus.group_id }, 'gatelog ingest listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing the batch in hand');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    ingest.stop()
      .then(() => store.close())
      .then(() => {
        server.close();
        process.exit(0);
      }, (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `gatelog ingest: configuration error\n${err.message}\n` : `gatelog ingest: ${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});

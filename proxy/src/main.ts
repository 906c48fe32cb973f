// The standalone proxy service for distributed mode: `node proxy/src/main.ts [--config PATH]
// [--port N] [--host H]`. Events go to Kafka through the on-disk spool under
// `<GATELOG_DATA_DIR>/spool`; the embedded launcher (`gatelog start`) is the one-process mode.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type logCreator } from 'kafkajs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, GATELOG_VERSION, createLogger, loadConfig, type Logger } from '@gatelog/core';
import { buildProxy } from './app.ts';
import { createKafkaPublisher } from './publish/kafka.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** kafkajs log lines through pino, at warn and above (its info level is chatty). */
export function kafkaLogs(logger: Logger): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    const fields = { kafka: namespace, ...extra };
    if (level === logLevel.ERROR) logger.error(fields, message);
    else if (level === logLevel.WARN) logger.warn(fields, message);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const env = process.env;
  const { config, file } = loadConfig({ path: values.config, env });
  const bus = config.bus;
  if (bus.kind !== 'kafka') throw new ConfigError(`${file ?? '(built-in defaults)'}: bus.kind: the proxy service needs bus.kind "kafka" (use \`gatelog start\` for the embedded mode)`);
  const logger = createLogger(env['GATELOG_LOG_LEVEL'] || config.logging.level);
  const masterKey = env['GATELOG_MASTER_KEY'] || undefined;
  const dataDir = resolve(env['GATELOG_DATA_DIR'] || './data');
  const host = values.host ?? config.server.host ?? (masterKey ? '0.0.0.0' : '127.0.0.1');
  if (!masterKey && !LOOPBACK.has(host)) throw new ConfigError(`server.host: refusing to listen on ${host} without GATELOG_MASTER_KEY`);
  const port = values.port !== undefined ? Number(values.port) : config.server.port;

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const kafka = new Kafka({
    clientId: bus.client_id,
    brokers: bus.brokers,
    requestTimeout: bus.request_timeout_ms,
    connectionTimeout: 3000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogs(logger),
  });
  const publisher = createKafkaPublisher({
    kafka,
    topic: bus.topic,
    compression: bus.compression,
    spoolDir: join(dataDir, 'spool'),
    spoolMaxBytes: bus.spool_max_bytes,
    batchMs: bus.batch_ms,
    batchRecords: bus.batch_records,
    sendTimeoutMs: bus.request_timeout_ms * 2,
    logger,
    registry,
  });
  const app = await buildProxy({ config, publish: publisher.publish, logger, registry, masterKey, readiness: publisher.readiness });
  await app.listen({ port, host });
  const addr = app.server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  logger.info({ url: `http://${shown}:${actual}`, version: GATELOG_VERSION, topic: bus.topic, spool: join(dataDir, 'spool') }, 'gatelog proxy listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    // Stop accepting and finish requests in flight, then give Kafka a moment to take the spool.
    app.close()
      .then(() => publisher.close(5000))
      .then(() => process.exit(0), (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `gatelog proxy: configuration error\n${err.message}\n` : `gatelog proxy: ${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});

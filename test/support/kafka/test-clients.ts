// Test fixture only (docker-compose runs the real Kafka in production): quiet, fast kafkajs
// clients for tests against KafkaTestBroker - silent logs, short timeouts and retries so a
// whole group rebalance fits in a second or two.
import { Kafka, logLevel, type Consumer, type ConsumerConfig, type KafkaConfig } from 'kafkajs';
import type { KafkaTestBroker } from './broker.ts';

export function testKafka(broker: KafkaTestBroker, overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'gatelog-test',
    brokers: broker.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 500,
    requestTimeout: 2_000,
    retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 8 },
    ...overrides,
  });
}

export function testConsumer(kafka: Kafka, groupId: string, overrides: Partial<ConsumerConfig> = {}): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: 3_000,
    rebalanceTimeout: 2_000,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 100,
    retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 8 },
    ...overrides,
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// TEST FIXTURE ONLY - docker-compose runs the real Kafka in production. Entry point for tests
// that need a Kafka broker: `const broker = new KafkaTestBroker(); await broker.start();`
// then point kafkajs at `broker.brokers` (see test-clients.ts for quiet, fast settings).
export { KafkaTestBroker, type CommittedOffsetEntry, type KafkaTestBrokerOptions, type StoredRecord } from './broker.ts';
export type { RecordHeader } from './record-batch.ts';
export { testConsumer, testKafka, waitUntil } from './test-clients.ts';

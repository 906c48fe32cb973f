// @gatelog/ingest: bus consumers → batched ClickHouse inserts, through one pipeline.
export { createIngest, type Ingest, type IngestDeps, type IngestSource } from './ingest.ts';
export { startLocalIngest, type LocalIngest, type LocalIngestDeps } from './local-consumer.ts';
export { classifyInsertError, insertIsolating, joinRows, type BatchResult, type InsertErrorInfo } from './insert-batch.ts';
export { writeDeadLetters, type DeadLetter } from './dead-letter.ts';
// The Kafka consumer is `@gatelog/ingest/kafka-consumer`: importing it loads kafkajs.
export type { KafkaIngest, KafkaIngestDeps } from './kafka-consumer.ts';

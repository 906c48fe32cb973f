// Child process of `pnpm bench --ingest`: hosts the Kafka broker fixture and the chDB-backed
// ClickHouse HTTP fixture (TEST FIXTURES ONLY), so their CPU is not counted against the ingest
// worker under test, as a real Kafka and ClickHouse server would run elsewhere. Prints one
// JSON line with their addresses; SIGTERM stops both and removes their data.
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker } from '../support/kafka/index.ts';

// 4 partitions for auto-created topics too (the lag run's topic), like ingest.ts' PARTITIONS.
const broker = new KafkaTestBroker({ defaultPartitions: 4 });
await broker.start();
const ch = new ClickHouseHttpFixture();
await ch.start();
process.stdout.write(`${JSON.stringify({ fixtures: { kafka: broker.brokers[0], clickhouse: ch.url } })}\n`);

let closing = false;
const close = (): void => {
  if (closing) return;
  closing = true;
  void Promise.all([broker.stop(), ch.close()]).finally(() => process.exit(0));
};
process.on('SIGTERM', close);
process.on('SIGINT', close);

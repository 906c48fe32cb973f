// Child process of `pnpm bench`: the Kafka broker fixture (TEST FIXTURE ONLY) the distributed
// proxy publishes to. Prints {"kafka":"host:port"}; SIGTERM stops it.
import { KafkaTestBroker } from '../support/kafka/index.ts';

// Nothing reads the bench's topic: keep 4 MiB of batches per partition, as a broker with
// retention.bytes would, so the fixture's heap (and its GC on the load core) does not grow with
// every event. Kept whole (each batch with its decoded records), it grew ~4.5 KB per event:
// ~1 GB after 50 s of the proxy at c=50.
// Nor does it decode records on arrival (framing and CRC-32C are still checked): inflating and
// copying every record of a batch took milliseconds of the load core after each of the proxy's
// sends, and delayed the mock's answers to the proxy's next one-connection calls.
const broker = new KafkaTestBroker({ defaultPartitions: 4, retentionBytes: 4 << 20, decodeOnProduce: process.env['BENCH_KAFKA_DECODE'] === '1' });
await broker.start();
process.stdout.write(`${JSON.stringify({ kafka: broker.brokers[0] })}\n`);
const close = (): void => {
  void broker.stop().finally(() => process.exit(0));
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

// Child process of `pnpm bench`: the Kafka broker fixture (TEST FIXTURE ONLY) the distributed
// proxy publishes to. Prints {"kafka":"host:port"}; SIGTERM stops it.
import { KafkaTestBroker } from '../support/kafka/index.ts';

const broker = new KafkaTestBroker({ defaultPartitions: 4 });
await broker.start();
process.stdout.write(`${JSON.stringify({ kafka: broker.brokers[0] })}\n`);
const close = (): void => {
  void broker.stop().finally(() => process.exit(0));
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

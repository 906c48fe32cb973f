// Metrics of the Kafka publisher and its spool, on the registry handed in (the proxy's /metrics).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface PublishMetrics {
  spooled: Counter;
  stripped: Counter;
  dropped: Counter;
  produced: Counter;
  produceErrors: Counter<'code'>;
  tooLarge: Counter<'outcome'>;
}

export function createPublishMetrics(registry: Registry, probes: { lagBytes: () => number; producerUp: () => boolean; spoolFull: () => boolean }): PublishMetrics {
  const registers = [registry];
  const fresh = (name: string): string => {
    // A publisher rebuilt in the same process (tests) takes the names over.
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    return name;
  };
  new Gauge({
    name: fresh('gatelog_spool_lag_bytes'),
    help: 'Spool bytes not yet acknowledged by Kafka',
    registers,
    collect() {
      this.set(Math.max(0, probes.lagBytes()));
    },
  });
  new Gauge({
    name: fresh('gatelog_kafka_producer_up'),
    help: '1 when the last produce to Kafka succeeded',
    registers,
    collect() {
      this.set(probes.producerUp() ? 1 : 0);
    },
  });
  new Gauge({
    name: fresh('gatelog_spool_full'),
    help: '1 while the spool is over spool_max_bytes (or the disk is full): events are recorded without bodies',
    registers,
    collect() {
      this.set(probes.spoolFull() ? 1 : 0);
    },
  });
  return {
    spooled: new Counter({ name: fresh('gatelog_events_spooled_total'), help: 'Call events written to the spool', registers }),
    stripped: new Counter({ name: fresh('gatelog_events_stripped_total'), help: 'Call events spooled without bodies because the spool was full', registers }),
    dropped: new Counter({ name: fresh('gatelog_events_dropped_total'), help: 'Call events that could not be spooled at all (disk full or I/O error)', registers }),
    produced: new Counter({ name: fresh('gatelog_events_produced_total'), help: 'Call events acknowledged by Kafka', registers }),
    produceErrors: new Counter({ name: fresh('gatelog_kafka_produce_errors_total'), help: 'Failed produce attempts (the batch stays in the spool and is retried)', labelNames: ['code'], registers }),
    tooLarge: new Counter({ name: fresh('gatelog_kafka_records_too_large_total'), help: 'Call events Kafka refused as too large on their own: sent without bodies (stripped) or not at all (dropped)', labelNames: ['outcome'], registers }),
  };
}

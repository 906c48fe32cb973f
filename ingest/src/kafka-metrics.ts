// Metrics of the Kafka ingest worker, on the registry handed in (the worker's /metrics).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface KafkaIngestMetrics {
  rows: Counter;
  batches: Counter;
  batchRows: Histogram;
  insertRows: Histogram;
  insertSeconds: Histogram;
  insertErrors: Counter<'kind'>;
  deadLetters: Counter<'code'>;
  lag: Gauge<'topic' | 'partition'>;
}

export function createKafkaIngestMetrics(registry: Registry): KafkaIngestMetrics {
  const registers = [registry];
  const fresh = (name: string): string => {
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    return name;
  };
  return {
    rows: new Counter({ name: fresh('gatelog_ingest_rows_total'), help: 'Rows inserted into ClickHouse', registers }),
    batches: new Counter({ name: fresh('gatelog_ingest_batches_total'), help: 'Kafka batches committed (inserted or dead-lettered, offsets committed)', registers }),
    batchRows: new Histogram({ name: fresh('gatelog_ingest_batch_rows'), help: 'Messages per Kafka batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers }),
    insertRows: new Histogram({ name: fresh('gatelog_ingest_insert_rows'), help: 'Rows per ClickHouse insert (one insert carries batches of several partitions)', buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000, 50000], registers }),
    insertSeconds: new Histogram({ name: fresh('gatelog_ingest_insert_seconds'), help: 'Duration of one ClickHouse insert', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    insertErrors: new Counter({ name: fresh('gatelog_ingest_insert_errors_total'), help: 'Failed inserts by kind: data (rejected rows, dead-lettered) or transient (retried)', labelNames: ['kind'], registers }),
    deadLetters: new Counter({ name: fresh('gatelog_ingest_dead_letter_total'), help: 'Messages sent to the dead-letter topic, by reason code', labelNames: ['code'], registers }),
    lag: new Gauge({ name: fresh('gatelog_ingest_consumer_lag'), help: 'Messages behind the high watermark at the last batch, per partition', labelNames: ['topic', 'partition'], registers }),
  };
}

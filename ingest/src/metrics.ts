// Ingest metrics, registered on the registry handed in (the process's single /metrics).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  rows: Counter;
  batches: Counter;
  batchRows: Histogram;
  insertSeconds: Histogram;
  lagBytes: Gauge;
  deadLetters: Counter;
  insertErrors: Counter<'kind'>;
  corruptBytes: Counter;
}

/** `lag` is computed at scrape time, so the gauge is exact without a timer. */
export function createIngestMetrics(registry: Registry, lag: () => number): IngestMetrics {
  const registers = [registry];
  const fresh = (name: string): string => {
    // A consumer restarted in the same process (tests, reload) takes the names over.
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    return name;
  };
  return {
    rows: new Counter({ name: fresh('gatelog_ingest_rows_total'), help: 'Rows inserted into ClickHouse', registers }),
    batches: new Counter({ name: fresh('gatelog_ingest_batches_total'), help: 'Batches committed (inserted, offset stored)', registers }),
    batchRows: new Histogram({
      name: fresh('gatelog_ingest_batch_rows'),
      help: 'Rows per committed batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    }),
    insertSeconds: new Histogram({
      name: fresh('gatelog_ingest_insert_seconds'),
      help: 'Duration of one ClickHouse insert',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    lagBytes: new Gauge({
      name: fresh('gatelog_ingest_lag_bytes'),
      help: 'Event log bytes not yet committed to ClickHouse (log end minus committed offset)',
      registers,
      collect() {
        this.set(Math.max(0, lag()));
      },
    }),
    deadLetters: new Counter({ name: fresh('gatelog_ingest_dead_letter_total'), help: 'Records ClickHouse rejected, written to the dead-letter file', registers }),
    insertErrors: new Counter({
      name: fresh('gatelog_ingest_insert_errors_total'),
      help: 'Failed inserts by kind: data (rejected rows, isolated) or transient (retried)',
      labelNames: ['kind'],
      registers,
    }),
    corruptBytes: new Counter({ name: fresh('gatelog_ingest_corrupt_log_bytes_total'), help: 'Event log bytes skipped because they failed their checksum', registers }),
  };
}

// Ingest metrics, registered on the registry handed in (the process's single /metrics): the
// pipeline's (rows, batches, inserts, errors, dead letters), whatever the source, plus each
// source's own lag gauge.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  rows: Counter;
  batches: Counter;
  batchRows: Histogram;
  insertRows: Histogram;
  insertSeconds: Histogram;
  deadLetters: Counter<'code'>;
  insertErrors: Counter<'kind'>;
  corruptBytes: Counter;
  repeats: Counter;
  erased: Counter<'mode'>;
  held: Counter;
}

/** A registry's metric of this name is taken over (a consumer restarted in the same process: tests, reload). */
export function freshName(registry: Registry, name: string): string {
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  return name;
}

/** The pipeline's metrics; `lagBytes` (the local event log) is computed at scrape time. */
export function createIngestMetrics(registry: Registry, lagBytes?: () => number): IngestMetrics {
  const registers = [registry];
  const fresh = (name: string): string => freshName(registry, name);
  if (lagBytes) {
    new Gauge({
      name: fresh('gatelog_ingest_lag_bytes'),
      help: 'Event log bytes not yet committed to ClickHouse (log end minus committed offset)',
      registers,
      collect() {
        this.set(Math.max(0, lagBytes()));
      },
    });
  }
  return {
    rows: new Counter({ name: fresh('gatelog_ingest_rows_total'), help: 'Rows inserted into ClickHouse', registers }),
    batches: new Counter({ name: fresh('gatelog_ingest_batches_total'), help: 'Batches committed (inserted or dead-lettered, source position committed)', registers }),
    batchRows: new Histogram({
      name: fresh('gatelog_ingest_batch_rows'),
      help: 'Records per committed batch (valid and dead-lettered)',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    }),
    insertRows: new Histogram({
      name: fresh('gatelog_ingest_insert_rows'),
      help: 'Rows per ClickHouse insert',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000, 50000],
      registers,
    }),
    insertSeconds: new Histogram({
      name: fresh('gatelog_ingest_insert_seconds'),
      help: 'Duration of one ClickHouse insert',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    deadLetters: new Counter({ name: fresh('gatelog_ingest_dead_letter_total'), help: 'Records dead-lettered (file or topic), by reason code', labelNames: ['code'], registers }),
    insertErrors: new Counter({
      name: fresh('gatelog_ingest_insert_errors_total'),
      help: 'Failed inserts by kind: data (rejected rows, isolated) or transient (retried)',
      labelNames: ['kind'],
      registers,
    }),
    corruptBytes: new Counter({ name: fresh('gatelog_ingest_corrupt_log_bytes_total'), help: 'Event log bytes skipped because they failed their checksum', registers }),
    erased: new Counter({
      name: fresh('gatelog_ingest_erased_rows_total'),
      help: 'Rows an erasure asked before they were stored covers: stored with their bodies emptied (mode="bodies") or left out (mode="rows")',
      labelNames: ['mode'],
      registers,
    }),
    held: new Counter({ name: fresh('gatelog_ingest_held_rows_total'), help: 'Rows stored marked as under an active legal hold', registers }),
    repeats: new Counter({ name: fresh('gatelog_ingest_duplicates_skipped_total'), help: 'Rows left out of an insert because ClickHouse already held their request id (or the insert carried it twice)', registers }),
  };
}

// Does gatelog's event pipeline keep up? Reads /metrics (ingest lag, events published, rows
// ingested — whichever exist: the ingest is young and its metric names may move), waits a
// bounded time for the backlog to drain, then counts rows in ClickHouse after a clean stop.
import { request } from 'undici';

export interface PipelineSnapshot {
  lagBytes: number | null;
  published: number | null;
  ingestedRows: number | null;
  deadLetters: number | null;
}

/** Sum of every sample of `name` (labels ignored) in Prometheus text, or null when absent. */
export function metricValue(text: string, name: string | RegExp): number | null {
  let found = false;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const series = line.slice(0, sp);
    const metric = series.split('{')[0] ?? series;
    if (typeof name === 'string' ? metric !== name : !name.test(metric)) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) {
      found = true;
      sum += v;
    }
  }
  return found ? sum : null;
}

export const EMPTY: PipelineSnapshot = { lagBytes: null, published: null, ingestedRows: null, deadLetters: null };

export async function snapshot(origin: string): Promise<PipelineSnapshot> {
  try {
    const res = await request(`${origin}/metrics`, { headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return EMPTY;
    return {
      lagBytes: metricValue(text, 'gatelog_ingest_lag_bytes'),
      published: metricValue(text, 'gatelog_events_published_total'),
      ingestedRows: metricValue(text, /^gatelog_ingest_rows(_inserted|_written)?_total$/),
      deadLetters: metricValue(text, 'gatelog_ingest_dead_letter_total'),
    };
  } catch {
    return EMPTY;
  }
}

export interface DrainResult {
  final: PipelineSnapshot;
  /** Seconds until the backlog was gone, or null when it did not drain (or cannot be seen). */
  drainedAfterS: number | null;
}

/** Poll /metrics until lag is 0 or rows caught up with `calls`, for at most `maxMs`. */
export async function waitForDrain(origin: string, calls: number, maxMs: number): Promise<DrainResult> {
  const start = performance.now();
  let last = await snapshot(origin);
  const caughtUp = (s: PipelineSnapshot): boolean =>
    (s.ingestedRows !== null && s.ingestedRows >= calls) || (s.ingestedRows === null && s.lagBytes === 0);
  const observable = (s: PipelineSnapshot): boolean => s.ingestedRows !== null || s.lagBytes !== null;
  if (!observable(last)) {
    // Nothing to watch: give the batcher a fixed grace period (a few batch intervals).
    await new Promise((r) => setTimeout(r, Math.min(maxMs, 3000)));
    return { final: await snapshot(origin), drainedAfterS: null };
  }
  while (!caughtUp(last) && performance.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 200));
    last = await snapshot(origin);
  }
  return { final: last, drainedAfterS: caughtUp(last) ? (performance.now() - start) / 1000 : null };
}

/** Rows in gatelog's ClickHouse (after the process stopped and released the data dir). */
export async function countRows(config: object, dataDir: string): Promise<{ rows: number; distinct: number } | { error: string }> {
  try {
    const core = await import('@gatelog/core');
    const parsed = core.parseConfig(config, '(bench)', {});
    const store = await core.openStore(parsed.storage, dataDir);
    try {
      return await core.countCalls(store);
    } finally {
      await store.close();
    }
  } catch (err) {
    return { error: err instanceof Error ? err.message.slice(0, 300) : String(err) };
  }
}

// Every read behind a page or an admin endpoint runs with a time limit, enforced twice: by
// the engine (`max_execution_time`, in the query's own SETTINGS clause so it binds this query
// only; a session-level SET would stick to chDB's shared connection) and in JS (the client's
// abort signal, a little later, for a query stuck before the engine checks its clock). Either
// way the caller gets a QueryTimeoutError with a message a person can act on, not a
// ClickHouse error text. In the embedded store each read runs on a connection of its own, with
// its values inlined (read-pool.ts), so a long read queues nobody. Exports are not limited here: they stream for as long as the download
// takes, without holding anything others need (inline-params.ts).
import type { ClickHouseClient, ResultSet } from '@clickhouse/client';
import type { Store } from './client.ts';
import { inlineParams } from './inline-params.ts';
import type { ReadKind } from './read-pool.ts';

/** Seconds a page's or an admin endpoint's query may run. */
export const READ_TIMEOUT_S = 20;
/** The JS-side deadline: after the engine's, so the engine's clearer error usually wins. */
const JS_GRACE_MS = 3_000;
/** ClickHouse's TIMEOUT_EXCEEDED. */
const TIMEOUT_EXCEEDED = '159';

export class QueryTimeoutError extends Error {
  override readonly name = 'QueryTimeoutError';
  readonly code = 'query_timeout';
  constructor(seconds: number = READ_TIMEOUT_S) {
    super(`The query took longer than ${seconds} s and was stopped; narrow the time range or the filters.`);
  }
}

export interface ReadQuery {
  /** One SELECT without SETTINGS or FORMAT clauses. */
  query: string;
  query_params?: Record<string, unknown>;
}

export interface ReadOptions {
  /** Whole seconds; READ_TIMEOUT_S unless given. */
  timeoutS?: number;
  /** Key lookups have a lane of their own in the embedded store (read-pool.ts). */
  kind?: ReadKind;
}

/** One read in JSONEachRow with the read time limit, on a reader of its own where the store has them. */
export async function readQuery(store: Pick<Store, 'client' | 'reader'>, q: ReadQuery, o: ReadOptions = {}): Promise<ResultSet<'JSONEachRow'>> {
  const seconds = Math.max(1, Math.round(o.timeoutS ?? READ_TIMEOUT_S));
  const signal = AbortSignal.timeout(seconds * 1000 + JS_GRACE_MS);
  const lane = store.reader?.(o.kind ?? 'pages');
  const client = lane?.client ?? store.client;
  const inline = lane?.inline === true && q.query_params !== undefined;
  try {
    const args: Parameters<ClickHouseClient['query']>[0] & { format: 'JSONEachRow' } = {
      query: `${inline ? inlineParams(q.query, q.query_params ?? {}) : q.query}\nSETTINGS max_execution_time = ${seconds}, timeout_overflow_mode = 'throw'`,
      format: 'JSONEachRow',
      abort_signal: signal,
      ...(q.query_params && !inline ? { query_params: q.query_params } : {}),
    };
    return await client.query(args);
  } catch (err) {
    if (signal.aborted || (err as { code?: unknown } | null)?.code === TIMEOUT_EXCEEDED) throw new QueryTimeoutError(seconds);
    throw err;
  } finally {
    lane?.release();
  }
}

// ClickHouse access for every service: one factory, two connections. Embedded mode hands
// `@clickhouse/client` chDB's in-process connection; distributed mode talks HTTP to a server.
// Everything above this file is identical across the two.
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

// Failures reach callers as thrown errors, which they log with context; the client's own
// console logging would only print the same errors again, unstructured.
const QUIET = { log: { level: ClickHouseLogLevel.OFF } };
import type { StorageConfig } from '../config.ts';
import { sqlString, streamThroughFifo } from './fifo-stream.ts';
import { inlineParams } from './inline-params.ts';
import { readPool, type ReadKind, type ReadLane } from './read-pool.ts';

export interface Store {
  client: ClickHouseClient;
  /** Database holding gatelog's tables (already validated as an identifier). */
  database: string;
  /** Insert JSONEachRow bytes as-is (one row per line) into a table of `database`. */
  insertRaw(table: string, rows: Buffer, settings?: Record<string, string | number>): Promise<void>;
  /**
   * Run one SELECT and yield its output bytes in `format` as ClickHouse produces them, chunk by
   * chunk, without materializing the result (exports of any size). Values are bound
   * server-side from `params` (`{name:Type}` placeholders); `query` carries no FORMAT clause.
   */
  streamQuery(q: StreamQuery): AsyncIterable<Uint8Array>;
  /** Embedded: a connection of its own for one read (read-pool.ts); absent: reads use `client`. */
  reader?(kind: ReadKind): ReadLane;
  close(): Promise<void>;
  kind: 'embedded' | 'http';
}

/**
 * Changes this process made through a store's client, counted per client. Embedded, the data
 * dir belongs to one process, so a count that has not moved since a read means the table read
 * has not changed either (and a chDB query costs ~3 ms of CPU however small).
 */
export interface LocalChanges {
  count(store: Pick<Store, 'client'>): number;
  add(store: Pick<Store, 'client'>): void;
}

export function localChanges(): LocalChanges {
  const counts = new WeakMap<object, number>();
  const count = (store: Pick<Store, 'client'>): number => counts.get(store.client) ?? 0;
  return { count, add: (store) => void counts.set(store.client, count(store) + 1) };
}

export interface StreamQuery {
  query: string;
  params?: Record<string, unknown> | undefined;
  /** Header-less formats only (callers write their own header); TSVRaw writes a String column's bytes as they are, one row per line. */
  format: 'CSV' | 'JSONEachRow' | 'TSVRaw';
  /** The body of a SETTINGS clause: fixed text of ours, never user input. */
  settings?: string | undefined;
  signal?: AbortSignal | undefined;
}

interface ChdbRaw {
  rawInsert(p: { table: string; values: Buffer; format: 'JSONEachRow'; settings?: Record<string, string | number | boolean> }): Promise<unknown>;
}

const INSERT_SETTINGS = { date_time_input_format: 'best_effort', input_format_skip_unknown_fields: 1 } as const;
/**
 * Embedded inserts share the proxy's CPU: one thread each, and no parallel parsing (its
 * segmenting pass over the rows is pure overhead when the insert has a core at most).
 * Measured on ~2 KB events, one pinned core: ~10% less CPU per row.
 */
const EMBEDDED_INSERT_SETTINGS = { input_format_parallel_parsing: 0, max_threads: 1, max_insert_threads: 1 } as const;

/**
 * Skip indexes an insert leaves to the merges, by table. The word indexes over the request and
 * response bodies cost ~25 µs per ~2 KB row to build (measured on chDB: 77 → 49 and 58 → 44 µs
 * per row in 4,000-row inserts, a third of an embedded insert), and every merge builds them again
 * for the part it writes (`materialize_skip_indexes_on_merge`). A part no merge has reached yet
 * is searched without them (its bodies are read: seconds' worth of rows); the answers are the
 * same, since search always checks the text itself too (call-filter.ts).
 */
export const MERGE_BUILT_INDEXES: Readonly<Record<string, string>> = {
  llm_calls: 'idx_request_body_words,idx_response_body_words',
};

const MERGE_BUILT_SETTING = 'exclude_materialize_skip_indexes_on_insert';

/** The insert setting that leaves `table`'s merge-built indexes out, or none for tables without them. */
function mergeBuilt(table: string, supported: boolean): Record<string, string> | null {
  const indexes = MERGE_BUILT_INDEXES[table];
  return supported && indexes ? { [MERGE_BUILT_SETTING]: indexes } : null;
}

/** Open the store. `dataDir` is where embedded ClickHouse keeps its files. */
export async function openStore(storage: Pick<StorageConfig, 'clickhouse' | 'database'>, dataDir: string): Promise<Store> {
  if (storage.clickhouse === 'embedded') {
    // chdb is loaded lazily: a distributed deployment never needs the native engine.
    const { createChdbConnection } = await import('chdb/connection');
    const { Session } = await import('chdb');
    const path = `${dataDir}/clickhouse`;
    const connection = createChdbConnection({ path });
    const client = createClient({ connection, ...QUIET } as unknown as Parameters<typeof createClient>[0]);
    const raw = (connection as unknown as { chdb: ChdbRaw }).chdb;
    const database = storage.database;
    const readers = readPool(() => createClient({ connection: createChdbConnection({ path }), ...QUIET } as unknown as Parameters<typeof createClient>[0]));
    return {
      client,
      database,
      kind: 'embedded',
      reader: (kind) => readers.acquire(kind),
      async insertRaw(table, rows, settings) {
        // chDB is the engine this package pins (26.x): the setting is known to exist.
        await raw.rawInsert({ table: `${database}.${table}`, values: rows, format: 'JSONEachRow', settings: { ...INSERT_SETTINGS, ...EMBEDDED_INSERT_SETTINGS, ...mergeBuilt(table, true), ...settings } });
      },
      // The client's chDB connection materializes whole results, and chDB's own result stream
      // is the slow way out for big ones (fifo-stream.ts): ClickHouse writes the result into a
      // FIFO instead. A session of its own per stream (same path: chDB shares the engine and
      // data, not query state) binds parameters in the engine and lets exports run side by side.
      async *streamQuery(q) {
        // Only our random FIFO path is matched; no user text reaches this statement.
        const killWriterOf = async (fifo: string): Promise<void> => {
          const s = new Session(path);
          try {
            await s.queryAsync(`KILL QUERY WHERE position(query, ${sqlString(fifo)}) > 0 ASYNC`);
          } finally {
            s.close();
          }
        };
        const session = new Session(path);
        try {
          // Values inlined, not bound: a bound query would hold chDB's process-wide parameter
          // queue for as long as the reader takes (inline-params.ts).
          const select = inlineParams(q.query, q.params ?? {});
          const sql = (fifo: string): string =>
            `${select}\nINTO OUTFILE ${sqlString(fifo)} APPEND FORMAT ${q.format}${q.settings ? `\nSETTINGS ${q.settings}` : ''}`;
          yield* streamThroughFifo((fifo) => session.queryAsync(sql(fifo), { format: 'CSV' }), killWriterOf, q.signal);
        } finally {
          session.close();
        }
      },
      close: async () => {
        await readers.close();
        await client.close();
      },
    };
  }
  const { url, database, username, password } = storage.clickhouse;
  const client = createClient({ url, username, password, database, request_timeout: 30_000, ...QUIET });
  // A server older than the setting would refuse every insert naming it: asked once, on the
  // first insert that could use it; a failed probe means "no" (inserts then build every index).
  let canDefer: Promise<boolean> | null = null;
  const probeDefer = async (): Promise<boolean> => {
    try {
      const r = await client.query({ query: 'SELECT count() AS n FROM system.settings WHERE name = {name:String}', query_params: { name: MERGE_BUILT_SETTING }, format: 'JSONEachRow' });
      const rows = await r.json<{ n: number | string }>();
      return Number(rows[0]?.n ?? 0) > 0;
    } catch {
      return false;
    }
  };
  return {
    client,
    database,
    kind: 'http',
    async insertRaw(table, rows, settings) {
      const defer = table in MERGE_BUILT_INDEXES && (await (canDefer ??= probeDefer()));
      await client.exec({
        query: `INSERT INTO ${database}.${table} FORMAT JSONEachRow`,
        values: rows,
        clickhouse_settings: { ...INSERT_SETTINGS, async_insert: 0, ...mergeBuilt(table, defer), ...settings },
      } as unknown as Parameters<ClickHouseClient['exec']>[0]).then((r) => {
        r.stream.resume();
      });
    },
    async *streamQuery(q) {
      // exec hands back the response body untouched: ClickHouse's bytes, streamed.
      const r = await client.exec({
        query: `${q.query}${q.settings ? `\nSETTINGS ${q.settings}` : ''}\nFORMAT ${q.format}`,
        query_params: q.params ?? {},
        ...(q.signal ? { abort_signal: q.signal } : {}),
      });
      try {
        for await (const chunk of r.stream as AsyncIterable<Uint8Array>) yield chunk;
      } finally {
        r.stream.destroy();
      }
    },
    close: () => client.close(),
  };
}

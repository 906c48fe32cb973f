// Connections of their own for reads in the embedded store. One chDB connection runs one
// query at a time (measured: a quick SELECT on the connection of a 3 s query waited 2.9 s; on
// another connection to the same engine, 0.13 s), and bound parameters queue process-wide
// (inline-params.ts). So reads leave the connection that ingest and writes use, take the least
// busy of a few connections, inline their values, and key lookups (auth refresh, revocation,
// the admin API) have a connection that pages never use: a slow page read cannot hold them.
import type { ClickHouseClient } from '@clickhouse/client';

/** Which reads a lane serves: key lookups, or everything a page or list asks for. */
export type ReadKind = 'keys' | 'pages';

export interface ReadLane {
  client: ClickHouseClient;
  /** Values must be inlined (inline-params.ts) rather than bound. */
  inline: boolean;
  /** Call once the result has been read. */
  release(): void;
}

export interface ReadPool {
  acquire(kind: ReadKind): ReadLane;
  close(): Promise<void>;
}

/** Page reads spread over this many connections; key lookups have one more of their own. */
export const PAGE_READ_CONNECTIONS = 3;

export function readPool(open: () => ClickHouseClient, pages = PAGE_READ_CONNECTIONS): ReadPool {
  const make = (): { client: ClickHouseClient; busy: number } => ({ client: open(), busy: 0 });
  const keys = make();
  const forPages = Array.from({ length: pages }, make);
  return {
    acquire(kind) {
      const c = kind === 'keys' ? keys : forPages.reduce((a, b) => (b.busy < a.busy ? b : a));
      c.busy++;
      let released = false;
      return {
        client: c.client,
        inline: true,
        release() {
          if (!released) c.busy--;
          released = true;
        },
      };
    },
    async close() {
      await Promise.all([keys, ...forPages].map((c) => c.client.close()));
    },
  };
}

// Exports for compliance: every export (UI download, GET /admin/export, `gatelog export`,
// scheduled) passes its bytes through `digestedExport`, which counts rows and bytes and
// hashes them as they stream, and ends in exactly one `export.run` audit row carrying the
// filter, format, rows, bytes and SHA-256. The manifest written next to an exported file
// (FILE.manifest.json) holds the same facts, so `gatelog export verify FILE` can check the
// file against it, and the manifest against the audit row.
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './client.ts';
import type { ExplorerFilter } from './call-filter.ts';
import { ExportRowCounter, exportBytes, type ExportFormat } from './export-queries.ts';
import { callWhere } from './call-filter.ts';
import { appendAudit, type AuditInput } from './audit.ts';

export const EXPORT_ACTION = 'export.run';

export const ExportManifest = z.object({
  gatelog_export: z.literal(1),
  export_id: z.string(),
  file: z.string(),
  format: z.enum(['csv', 'jsonl']),
  /** The filter as its URL query string (the explorer's parameters) and as resolved bounds. */
  filter: z.object({ query: z.string(), resolved: z.record(z.string(), z.unknown()) }),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  started_at: z.string(),
  finished_at: z.string(),
  by: z.object({ actor: z.string(), role: z.string() }),
  /** Where it came from (the gatelog URL, or `scheduled`). */
  source: z.string(),
  /** The audit row that records this export (after an erasure rewrote the file, its `export.erase` row), when known. */
  audit_id: z.string().optional(),
  /** Erasures that rewrote the file since it was exported (export-erasure.ts), oldest first. */
  erasures: z.array(z.object({
    erasure_ids: z.array(z.string()),
    at: z.string(),
    rows_erased: z.number().int().nonnegative(),
    rows_removed: z.number().int().nonnegative(),
    previous_sha256: z.string(),
  })).optional(),
});
export type ExportManifest = z.infer<typeof ExportManifest>;

export interface ExportDigest {
  rows: number;
  bytes: number;
  sha256: string;
}

/** Counts and hashes bytes as they pass (the CLI and `export verify` use it on files too). */
export class ExportDigester {
  readonly #hash = createHash('sha256');
  readonly #counter: ExportRowCounter;
  #bytes = 0;
  /** The CSV header line is not a row. */
  #headerLeft: boolean;
  constructor(format: ExportFormat) {
    this.#counter = new ExportRowCounter(format);
    this.#headerLeft = format === 'csv';
  }

  feed(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
    let rest = chunk;
    if (this.#headerLeft) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) return;
      this.#headerLeft = false;
      rest = chunk.subarray(nl + 1);
    }
    this.#counter.feed(rest);
  }

  digest(): ExportDigest {
    return { rows: this.#counter.rows, bytes: this.#bytes, sha256: this.#hash.copy().digest('hex') };
  }
}

export interface DigestedExportOptions {
  filter: ExplorerFilter;
  /** The filter as the explorer's URL query string (what the audit row and manifest show). */
  filterQuery: string;
  format: ExportFormat;
  /** Who asked: actor, role, ip, user agent (the audit row's columns). */
  who: Pick<AuditInput, 'actor' | 'role' | 'sourceIp' | 'userAgent'>;
  /** `ui`, `api`, `scheduled`, … (recorded in details). */
  via: string;
  signal?: AbortSignal | undefined;
  /** Where the audit row goes; default: this store's chain (a read-only UI passes the admin API). */
  record?: ((input: AuditInput) => Promise<unknown>) | undefined;
}

export interface DigestedExport {
  exportId: string;
  chunks: AsyncGenerator<Uint8Array>;
  /** Rows, bytes and SHA-256 so far (final once `chunks` ends). */
  digest(): ExportDigest;
  /**
   * Settles once the export's audit row was written (after `chunks` ended or was abandoned):
   * null, or the error that kept it from being written (the caller logs it, and a file export
   * is then not published: bytes that left without their audit row are the caller's to report).
   */
  audited: Promise<Error | null>;
}

/** The export's bytes, digested, ending in one `export.run` audit row whether it completed or not. */
export function digestedExport(store: Store, o: DigestedExportOptions): DigestedExport {
  const exportId = randomUUID();
  const abort = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, abort.signal]) : abort.signal;
  const out = exportBytes(store, o.filter, o.format, signal);
  const digester = new ExportDigester(o.format);
  const record = o.record ?? ((input: AuditInput) => appendAudit(store, input));
  let settle!: (err: Error | null) => void;
  const audited = new Promise<Error | null>((resolve) => (settle = resolve));
  const startedAt = new Date().toISOString();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let completed = false;
    let failure: string | undefined;
    try {
      for await (const c of out.chunks) {
        digester.feed(c);
        yield c;
      }
      completed = true;
    } catch (err) {
      // A query stopped because its reader went away is not a failed query.
      failure = o.signal?.aborted ? 'client went away' : 'query failed';
      throw err;
    } finally {
      if (!completed) abort.abort();
      const d = digester.digest();
      await record({
        ...o.who,
        action: EXPORT_ACTION,
        targetType: 'llm_calls',
        target: o.format,
        details: {
          export_id: exportId, via: o.via, format: o.format, filter: o.filterQuery, resolved: o.filter,
          rows: d.rows, bytes: d.bytes, sha256: d.sha256, started_at: startedAt, completed,
          ...(completed ? {} : { failure: failure ?? 'client went away' }),
        },
      }).then(
        () => settle(null),
        (err: unknown) => settle(err instanceof Error ? err : new Error(String(err))),
      );
    }
  }
  return { exportId, chunks: chunks(), digest: () => digester.digest(), audited };
}

/**
 * `ex`'s bytes, then a throw if its audit row could not be written: a download served from
 * this ends in an error rather than looking complete without its record.
 */
export async function* auditedChunks(ex: DigestedExport): AsyncGenerator<Uint8Array> {
  yield* ex.chunks;
  const unaudited = await ex.audited;
  if (unaudited) throw new Error('the export could not be recorded in the audit trail', { cause: unaudited });
}

/** How many calls an export of `filter` holds (for a progress bar; FINAL, like the export). */
export async function exportRowCount(store: Store, filter: ExplorerFilter): Promise<number> {
  const w = callWhere(filter, 'f_', store.database);
  const rs = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.llm_calls FINAL ${w.sql}`,
    query_params: w.params,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
}

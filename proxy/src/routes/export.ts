// GET /admin/export?format=csv|jsonl&<explorer filters>: every matching call, oldest first,
// streamed as ClickHouse writes it — the same filters (core explorer-params), formats and bytes
// as the UI's /export. The response names the export (`x-gatelog-export-id`); when the stream
// ends (completed or abandoned) one `export.run` audit row records who, the filter, format,
// rows, bytes and SHA-256 (core export-manifest.ts), which `gatelog export` checks its file against.
// GET /admin/export/count?<filters>: how many rows that export holds (the CLI's progress bar).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditedChunks, digestedExport, explorerQuery, exportRowCount, parseExplorer, toFilter, type Store } from '@gatelog/core';
import type { ExplorerFilter } from '@gatelog/core/store/call-filter';
import { checkExplorerApiParams } from '@gatelog/core/store/read-params';
import { badRequest } from '../errors.ts';
import { installSurface } from './surface.ts';
import { adminGuard, auditWho } from './admin-caller.ts';
import { principalOf } from '../admin-principal.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';

/** The filter as the caller may see it: a team-scoped token exports its teams' calls only. */
function scoped(req: FastifyRequest, filter: ExplorerFilter): ExplorerFilter {
  const teams = principalOf(req).teams;
  return teams.length ? { ...filter, teams } : filter;
}

/** The query checked whole (core read-params): a malformed or unknown parameter is a 400 naming it, never a wider export. */
function checkQuery(params: URLSearchParams, extra: readonly string[]): void {
  try {
    checkExplorerApiParams(params, extra);
  } catch (err) {
    asBadFilter(err);
  }
}

/** A filter value out of range (the store's parameter checks) is the client's mistake: a 400. */
function asBadFilter(err: unknown): never {
  const p = (err as { param?: unknown }).param;
  if (typeof p === 'string') throw badRequest('invalid_filter', (err as Error).message, p);
  throw err;
}

export function exportRoutes(deps: { store: Store; gov: Governance; metrics: ProxyMetrics }) {
  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installSurface(app, deps.metrics);
    app.addHook('onRequest', adminGuard(deps.gov, deps.store));
    app.get('/export/count', async (req) => {
      const params = new URL(req.url, 'http://x').searchParams;
      checkQuery(params, []);
      const state = parseExplorer(params);
      return { rows: await exportRowCount(deps.store, scoped(req, toFilter(state))).catch(asBadFilter) };
    });

    app.get('/export', async (req, reply) => {
      const url = new URL(req.url, 'http://x');
      const format = url.searchParams.get('format');
      if (format !== 'csv' && format !== 'jsonl') throw badRequest('invalid_format', 'format: expected csv or jsonl.', 'format');
      checkQuery(url.searchParams, ['format']);
      const state = parseExplorer(url.searchParams);
      // Stops the ClickHouse query when the client goes away mid-download.
      const abort = new AbortController();
      req.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      let ex;
      try {
        ex = digestedExport(deps.store, {
          filter: scoped(req, toFilter(state)), filterQuery: explorerQuery(state), format, who: auditWho(req), via: 'api', signal: abort.signal,
        });
      } catch (err) {
        asBadFilter(err);
      }
      const exportId = ex.exportId;
      void ex.audited.then((err) => {
        if (err) req.log.error({ err, export_id: exportId, code: 'GATELOG_ERR_EXPORT_AUDIT' }, 'an export could not be recorded in the audit trail');
      });
      const stamp = new Date().toISOString().replaceAll(':', '').slice(0, 15);
      return reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="gatelog-export-${stamp}.${format}"`)
        .header('x-gatelog-export-id', ex.exportId)
        .send(Readable.from(auditedChunks(ex), { objectMode: false }));
    });
    done();
  };
}

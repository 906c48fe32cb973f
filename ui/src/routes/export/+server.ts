// GET /export?format=csv|jsonl&<explorer filters>: every matching call, oldest first, as
// the bytes ClickHouse writes (core exportBytes), passed through chunk by chunk with the
// stream's backpressure, so memory stays flat at any size. Each export ends in one
// `export.run` audit row (core digestedExport: who, role, filter, format, rows, bytes, SHA-256,
// completed), written through this UI's audit sink (the store, or the admin API).
import { error } from '@sveltejs/kit';
import { digestedExport } from '@gatelog/core/store/export-manifest';
import { explorerQuery, parseExplorer, toFilter } from '#lib/explorer.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { auditSink, auditWho } from '#lib/server/audit.server.ts';
import { checkExplorerParams } from '@gatelog/core/store/read-params';
import { readOr400 } from '#lib/server/read-params.server.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
  const { url } = event;
  const format = url.searchParams.get('format');
  if (format !== 'csv' && format !== 'jsonl') error(400, 'format must be csv or jsonl');
  readOr400(() => checkExplorerParams(url.searchParams));
  const state = parseExplorer(url.searchParams);
  // A team-scoped person exports their teams' calls only.
  const teams = event.locals.principal?.teams ?? [];
  const filter = teams.length ? { ...toFilter(state), teams } : toFilter(state);
  const { store } = await uiContext();
  // Stops the ClickHouse query when the browser goes away mid-download.
  const abort = new AbortController();
  const out = digestedExport(store, {
    filter, filterQuery: explorerQuery(state), format, who: auditWho(event), via: 'ui', signal: abort.signal, record: await auditSink(),
  });

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await out.chunks.next();
        if (next.done) {
          // The audit row is written before the last bytes are: a download whose row could
          // not be written ends in an error instead of looking complete.
          const unaudited = await out.audited;
          if (unaudited) {
            console.error('gatelog ui: recording an export in the audit trail failed', unaudited);
            controller.error(unaudited);
            return;
          }
          controller.close();
          return;
        }
        controller.enqueue(next.value);
      } catch (err) {
        console.error('gatelog ui: export failed', err);
        controller.error(err);
      }
    },
    async cancel() {
      abort.abort();
      await out.chunks.return(undefined).catch(() => undefined);
    },
  });
  const stamp = new Date().toISOString().replaceAll(':', '').slice(0, 15);
  return new Response(body, {
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="gatelog-export-${stamp}.${format}"`,
      'x-gatelog-export-id': out.exportId,
    },
  });
};

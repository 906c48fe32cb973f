// GET /export?format=csv|jsonl&<explorer filters>: every matching call, oldest first, as
// the bytes ClickHouse writes (core exportBytes), passed through chunk by chunk with the
// stream's backpressure, so memory stays flat at any size. Each export is recorded in
// admin_audit when it ends (who, when, which filter, rows, completed).
import { error } from '@sveltejs/kit';
import { insertAudit } from '@gatelog/core/store/keys';
import { exportBytes } from '@gatelog/core/store/export-queries';
import { explorerQuery, parseExplorer, toFilter } from '#lib/explorer.ts';
import { uiContext } from '#lib/server/context.server.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ url, locals, getClientAddress }) => {
  const format = url.searchParams.get('format');
  if (format !== 'csv' && format !== 'jsonl') error(400, 'format must be csv or jsonl');
  const state = parseExplorer(url.searchParams);
  const filter = toFilter(state);
  const { store } = await uiContext();
  // Stops the ClickHouse query when the browser goes away mid-download.
  const abort = new AbortController();
  const out = exportBytes(store, filter, format, abort.signal);
  const actor = locals.authRequired ? 'master' : 'open-ui';
  let sourceIp = '';
  try {
    sourceIp = getClientAddress();
  } catch {
    // Not every adapter setup knows the peer address; the audit row then has none.
  }
  let audited = false;
  const audit = async (completed: boolean, failure?: string): Promise<void> => {
    if (audited) return;
    audited = true;
    await insertAudit(store, {
      at: new Date(),
      actor,
      action: 'export.run',
      targetType: 'llm_calls',
      target: format,
      details: { filter: explorerQuery(state), resolved: filter, rows: out.rows(), completed, ...(failure ? { failure } : {}) },
      sourceIp,
    }).catch((err: unknown) => console.error('gatelog ui: recording an export failed', err));
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await out.chunks.next();
        if (next.done) {
          await audit(true);
          controller.close();
          return;
        }
        controller.enqueue(next.value);
      } catch (err) {
        console.error('gatelog ui: export failed', err);
        await audit(false, 'query failed');
        controller.error(err);
      }
    },
    async cancel() {
      abort.abort();
      await out.chunks.return(undefined).catch(() => undefined);
      await audit(false, 'client went away');
    },
  });
  const stamp = new Date().toISOString().replaceAll(':', '').slice(0, 15);
  return new Response(body, {
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="gatelog-export-${stamp}.${format}"`,
    },
  });
};

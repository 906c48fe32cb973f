// GET /audit/export?format=csv|jsonl&<audit filters>: the matching audit rows, oldest first, as
// ClickHouse writes them, streamed. Exporting the trail is itself audited (`audit.export`:
// filter, format, rows, bytes, SHA-256, completed, and the teams a team-scoped reader's rows
// were limited to), through this UI's audit sink.
import { error } from '@sveltejs/kit';
import { auditRowsBytes } from '@gatelog/core/store/audit-queries';
import { ExportDigester } from '@gatelog/core/store/export-manifest';
import { uiContext } from '#lib/server/context.server.ts';
import { auditSink, auditWho } from '#lib/server/audit.server.ts';
import { auditQueryString, parseAuditState, requireAuditRead, toAuditFilter } from '../filter.server.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
  requireAuditRead(event);
  const format = event.url.searchParams.get('format');
  if (format !== 'csv' && format !== 'jsonl') error(400, 'format must be csv or jsonl');
  const state = parseAuditState(event.url.searchParams);
  const { store } = await uiContext();
  const record = await auditSink();
  const who = auditWho(event);
  const abort = new AbortController();
  const filter = toAuditFilter(state, event.locals.principal);
  const chunks = auditRowsBytes(store, filter, format, abort.signal);
  const digester = new ExportDigester(format);
  let audited = false;
  const audit = async (completed: boolean): Promise<void> => {
    if (audited) return;
    audited = true;
    const d = digester.digest();
    await record({ ...who, action: 'audit.export', targetType: 'admin_audit', target: format, details: { filter: auditQueryString(state), ...(filter.teams ? { teams: filter.teams } : {}), format, ...d, completed } })
      .catch((err: unknown) => console.error('gatelog ui: recording an audit export failed', err));
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) {
          await audit(true);
          controller.close();
          return;
        }
        digester.feed(next.value);
        controller.enqueue(next.value);
      } catch (err) {
        console.error('gatelog ui: audit export failed', err);
        await audit(false);
        controller.error(err);
      }
    },
    async cancel() {
      abort.abort();
      await chunks.return(undefined).catch(() => undefined);
      await audit(false);
    },
  });
  const stamp = new Date().toISOString().replaceAll(':', '').slice(0, 15);
  return new Response(body, {
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="gatelog-audit-${stamp}.${format}"`,
    },
  });
};

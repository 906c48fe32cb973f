// /audit: the audit trail, newest first, filtered by person, action and time, 100 rows a page
// (keyset cursor), with CSV/JSONL export of the same filter. Owners and auditors only; a
// team-scoped one sees the rows about their teams (toAuditFilter). Above it, whether each audit
// sink (audit.sinks) has every row (sinks.server.ts).
import { error } from '@sveltejs/kit';
import { listAudit } from '@gatelog/core/store/audit-queries';
import { uiContext } from '#lib/server/context.server.ts';
import { auditQueryString, parseAuditState, requireAuditRead, toAuditFilter } from './filter.server.ts';
import { auditSinks } from './sinks.server.ts';
import type { PageServerLoad } from './$types';

const PAGE = 100;
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_([0-9a-f-]{36})$/;

export const load: PageServerLoad = async (event) => {
  requireAuditRead(event);
  const state = parseAuditState(event.url.searchParams);
  const m = CURSOR.exec(event.url.searchParams.get('before') ?? '');
  const { store } = await uiContext();
  const sinks = auditSinks(event);
  try {
    const rows = await listAudit(store, { ...toAuditFilter(state, event.locals.principal), limit: PAGE + 1, ...(m ? { before: { at: m[1]!, id: m[2]! } } : {}) });
    const shown = rows.slice(0, PAGE);
    const last = shown[shown.length - 1];
    return {
      state,
      rows: shown,
      paged: m !== null,
      next: rows.length > PAGE && last ? auditQueryString(state, { before: `${last.at}_${last.id}` }) : undefined,
      exportQuery: auditQueryString(state),
      sinks: await sinks,
    };
  } catch (err) {
    console.error('gatelog ui: reading the audit trail failed', err);
    error(503, 'The audit trail is not available right now.');
  }
};

// The UI's data access: thin wrappers over core's named, parameterized queries.
import { getCall, listCalls, type CallDetail, type CallSummary } from '@gatelog/core/store/queries';
import { callPreviews } from '@gatelog/core/store/ui-queries';
import type { Store } from '@gatelog/core/store/client';
import { promptPreview } from '#lib/bodies.ts';
import type { Cursor, ListFilters } from '#lib/filters.ts';

export const PAGE_SIZE = 50;

export interface CallPage {
  rows: CallSummary[];
  /** Cursor for the next (older) page, when there is one. */
  older: Cursor | undefined;
}

export async function listPage(store: Store, f: ListFilters, before: Cursor | undefined, pageSize = PAGE_SIZE): Promise<CallPage> {
  // One extra row tells whether an older page exists without a count query.
  const rows = await listCalls(store, {
    model: f.model || undefined,
    status: f.status || undefined,
    key: f.key || undefined,
    before,
    limit: pageSize + 1,
  });
  const page = rows.slice(0, pageSize);
  // listCalls' preview is the body's first bytes; prefer the user's own words when found.
  const previews = await callPreviews(store, page);
  for (const r of page) r.preview = previews.get(r.request_id) || promptPreview(r.preview);
  const last = page[page.length - 1];
  const older = rows.length > pageSize && last ? { startedAt: last.started_at, requestId: last.request_id } : undefined;
  return { rows: page, older };
}

export function getDetail(store: Store, id: string): Promise<CallDetail | null> {
  return getCall(store, id);
}

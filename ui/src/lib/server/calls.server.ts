// The UI's data access: thin wrappers over core's named, parameterized queries.
import { getCall, type CallDetail } from '@gatelog/core/store/queries';
import { callPreviews } from '@gatelog/core/store/ui-queries';
import type { Store } from '@gatelog/core/store/client';
import { promptPreview } from '#lib/bodies.ts';

/** Replace each row's raw body prefix with the user's own words when they can be found. */
export async function withPreviews<T extends { request_id: string; started_at: string; preview: string }>(store: Store, rows: T[]): Promise<T[]> {
  const previews = await callPreviews(store, rows);
  for (const r of rows) {
    // A split body's stored text is a skeleton: fall back to its whole body's first characters.
    const p = previews.get(r.request_id);
    r.preview = p?.preview || promptPreview(p?.prefix ?? r.preview);
  }
  return rows;
}

/** Each session's preview: its last call's (`preview`, '' when none). */
export async function withSessionPreviews<T extends { last_request_id: string; last_at: string }>(store: Store, rows: T[]): Promise<(T & { preview: string })[]> {
  const last = rows.filter((r) => r.last_request_id).map((r) => ({ request_id: r.last_request_id, started_at: r.last_at, preview: '' }));
  const previews = new Map((await withPreviews(store, last)).map((c) => [c.request_id, c.preview]));
  return rows.map((r) => ({ ...r, preview: previews.get(r.last_request_id) ?? '' }));
}

/** The same, for explorer rows that carry the user's words already (read with the row). */
export function withReadPreviews<T extends { preview: string; prompt_preview?: string | undefined }>(rows: T[]): T[] {
  for (const r of rows) r.preview = r.prompt_preview || promptPreview(r.preview);
  return rows;
}

export function getDetail(store: Store, id: string): Promise<CallDetail | null> {
  return getCall(store, id);
}

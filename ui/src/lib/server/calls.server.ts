// The UI's data access: thin wrappers over core's named, parameterized queries.
import { getCall, type CallDetail } from '@gatelog/core/store/queries';
import { callPreviews } from '@gatelog/core/store/ui-queries';
import type { Store } from '@gatelog/core/store/client';
import { promptPreview } from '#lib/bodies.ts';

/** Replace each row's raw body prefix with the user's own words when they can be found. */
export async function withPreviews<T extends { request_id: string; started_at: string; preview: string }>(store: Store, rows: T[]): Promise<T[]> {
  const previews = await callPreviews(store, rows);
  for (const r of rows) r.preview = previews.get(r.request_id) || promptPreview(r.preview);
  return rows;
}

/** The same, for explorer rows that carry the user's words already (read with the row). */
export function withReadPreviews<T extends { preview: string; prompt_preview?: string | undefined }>(rows: T[]): T[] {
  for (const r of rows) r.preview = r.prompt_preview || promptPreview(r.preview);
  return rows;
}

export function getDetail(store: Store, id: string): Promise<CallDetail | null> {
  return getCall(store, id);
}

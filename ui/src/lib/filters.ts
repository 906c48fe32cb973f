// The request list's filters and keyset cursor live in the URL query string, so any view is
// a shareable link. Parsing is strict: anything malformed is dropped, never passed to SQL.

export interface ListFilters {
  model: string;
  status: '' | 'ok' | 'error';
  key: string;
}

export interface Cursor {
  startedAt: string;
  requestId: string;
}

const MAX_LEN = 200;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function clean(v: string | null): string {
  return (v ?? '').trim().slice(0, MAX_LEN);
}

export function parseFilters(params: URLSearchParams): ListFilters {
  const status = params.get('status');
  return {
    model: clean(params.get('model')),
    status: status === 'ok' || status === 'error' ? status : '',
    key: clean(params.get('key')),
  };
}

export function encodeCursor(c: Cursor): string {
  return `${c.startedAt}_${c.requestId}`;
}

export function parseCursor(raw: string | null): Cursor | undefined {
  if (!raw) return undefined;
  const i = raw.indexOf('_');
  if (i < 0) return undefined;
  const startedAt = raw.slice(0, i);
  const requestId = raw.slice(i + 1);
  return ISO_MS.test(startedAt) && UUID.test(requestId) ? { startedAt, requestId } : undefined;
}

/** Query string for a list view: only non-empty filters, plus the cursor when paging. */
export function listQuery(f: ListFilters, before?: Cursor): string {
  const q = new URLSearchParams();
  if (f.model) q.set('model', f.model);
  if (f.status) q.set('status', f.status);
  if (f.key) q.set('key', f.key);
  if (before) q.set('before', encodeCursor(before));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function isRequestId(id: string): boolean {
  return UUID.test(id);
}

// The requests explorer's whole state lives in the URL query string (a view is a link you
// can share); the UI's pages and exports and the admin API's GET /admin/export read the same
// parameters through this one parser. Parsing is strict: malformed values are dropped, never
// passed on; what passes reaches SQL only as typed parameters (call-filter.ts).
import type { ExplorerFilter } from './call-filter.ts';
import { FEEDBACK_FILTERS, type FeedbackFilter } from './feedback-filter.ts';
import { traceIdOfSearch } from '../otel/w3c.ts';

export const PRESETS = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type Preset = keyof typeof PRESETS;
export const SORT_KEYS = ['time', 'latency', 'cost', 'key', 'user'] as const;
export type Sort = (typeof SORT_KEYS)[number];

export interface ExplorerState {
  /** A preset, or '' for an absolute range (from/to) or all time. */
  range: Preset | '';
  from: string;
  to: string;
  model: string;
  provider: string;
  key: string;
  team: string;
  user: string;
  status: '' | 'ok' | 'error';
  error: string;
  cache: '' | 'hit' | 'miss';
  stream: '' | 'yes' | 'no';
  /** `yes`: only replays; `no`: only clients' own calls. */
  replay: '' | 'yes' | 'no';
  /** `k=v` pairs, comma-separated. */
  tags: string;
  trace: string;
  session: string;
  costMin: string;
  costMax: string;
  latMin: string;
  latMax: string;
  q: string;
  /** How `q` matches: '' = whole words (served by the full-text index), 'part' = any substring. */
  match: '' | 'part';
  /** Calls with feedback: `positive` (a value above 0), `negative` (below 0), `any`, `none`. */
  feedback: '' | FeedbackFilter;
  sort: Sort;
  dir: 'asc' | 'desc';
}

/** The URL parameter of each field (stable: links in the wild use them). */
export const EXPLORER_FIELDS = [
  'range', 'from', 'to', 'model', 'provider', 'key', 'team', 'user', 'status', 'error', 'cache', 'stream', 'replay',
  'tags', 'trace', 'session', 'costMin', 'costMax', 'latMin', 'latMax', 'q', 'match', 'feedback', 'sort', 'dir',
] as const satisfies readonly (keyof ExplorerState)[];

export const EMPTY: ExplorerState = {
  range: '', from: '', to: '', model: '', provider: '', key: '', team: '', user: '', status: '', error: '',
  cache: '', stream: '', replay: '', tags: '', trace: '', session: '', costMin: '', costMax: '', latMin: '', latMax: '', q: '',
  match: '', feedback: '', sort: 'time', dir: 'desc',
};

const MAX_LEN = 200;
const NUM = /^\d+(\.\d+)?$/;

function clean(v: string | null): string {
  return (v ?? '').trim().slice(0, MAX_LEN);
}

function oneOf<T extends string>(v: string, allowed: readonly T[], fallback: T): T {
  return (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}

/** An instant typed as ISO or as `<input type=datetime-local>` (read as UTC); '' if invalid. */
export function parseInstant(v: string): string {
  if (!v) return '';
  const s = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v) ? `${v}Z` : v;
  if (!/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(s)) return '';
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : '';
}

export function parseExplorer(params: URLSearchParams): ExplorerState {
  const s: ExplorerState = { ...EMPTY };
  for (const f of EXPLORER_FIELDS) if (f !== 'sort' && f !== 'dir' && f !== 'range' && f !== 'status' && f !== 'cache' && f !== 'stream' && f !== 'replay' && f !== 'match' && f !== 'feedback') s[f] = clean(params.get(f));
  s.match = oneOf(clean(params.get('match')), ['part'] as const, '');
  s.range = oneOf(clean(params.get('range')), Object.keys(PRESETS) as Preset[], '');
  s.status = oneOf(clean(params.get('status')), ['ok', 'error'] as const, '');
  s.cache = oneOf(clean(params.get('cache')), ['hit', 'miss'] as const, '');
  s.stream = oneOf(clean(params.get('stream')), ['yes', 'no'] as const, '');
  s.replay = oneOf(clean(params.get('replay')), ['yes', 'no'] as const, '');
  s.feedback = oneOf(clean(params.get('feedback')), ['', ...FEEDBACK_FILTERS] as const, '');
  s.sort = oneOf(clean(params.get('sort')), SORT_KEYS, 'time');
  s.dir = oneOf(clean(params.get('dir')), ['asc', 'desc'] as const, 'desc');
  s.from = parseInstant(s.from);
  s.to = parseInstant(s.to);
  for (const n of ['costMin', 'costMax', 'latMin', 'latMax'] as const) if (!NUM.test(s[n])) s[n] = '';
  return s;
}

export function parseTags(s: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out.push([part.slice(0, i).trim(), part.slice(i + 1).trim()]);
  }
  return out.slice(0, 10);
}

/** The store filter for a state, a preset counted back from `now`. */
export function toFilter(s: ExplorerState, now: number = Date.now()): ExplorerFilter {
  const num = (v: string): number | undefined => (v ? Number(v) : undefined);
  const from = s.range ? new Date(now - PRESETS[s.range]).toISOString() : s.from || undefined;
  const to = s.range ? undefined : s.to || undefined;
  return {
    from,
    to,
    model: s.model || undefined,
    provider: s.provider || undefined,
    key: s.key || undefined,
    team: s.team || undefined,
    user: s.user || undefined,
    status: s.status || undefined,
    errorType: s.error || undefined,
    cacheHit: s.cache ? s.cache === 'hit' : undefined,
    stream: s.stream ? s.stream === 'yes' : undefined,
    replay: s.replay ? s.replay === 'yes' : undefined,
    tags: parseTags(s.tags),
    // A pasted traceparent searches for its trace id.
    traceId: s.trace ? traceIdOfSearch(s.trace) : undefined,
    sessionId: s.session || undefined,
    costMin: num(s.costMin),
    costMax: num(s.costMax),
    latencyMin: num(s.latMin),
    latencyMax: num(s.latMax),
    text: s.q || undefined,
    wholeWords: s.q ? s.match !== 'part' : undefined,
    feedback: s.feedback || undefined,
  };
}

/** Query string for a state: only non-default values, plus extra pairs (cursor). */
export function explorerQuery(s: Partial<ExplorerState>, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const f of EXPLORER_FIELDS) {
    const v = s[f];
    if (v && v !== EMPTY[f]) q.set(f, v);
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const str = q.toString();
  return str ? `?${str}` : '';
}

export function hasFilters(s: ExplorerState): boolean {
  return EXPLORER_FIELDS.some((f) => f !== 'sort' && f !== 'dir' && s[f] !== EMPTY[f]);
}

/** Cursor `<value>_<request id>`: an ISO time for the time sort, a number otherwise. */
export function encodeAfter(c: { value: string; requestId: string }): string {
  return `${c.value}_${c.requestId}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseAfter(raw: string | null, sort: Sort): { value: string; requestId: string } | undefined {
  if (!raw) return undefined;
  const i = raw.lastIndexOf('_');
  if (i < 0) return undefined;
  const value = raw.slice(0, i);
  const requestId = raw.slice(i + 1);
  if (!UUID.test(requestId)) return undefined;
  const ok = sort === 'time' ? parseInstant(value) === value : sort === 'key' || sort === 'user' ? value.length <= MAX_LEN : /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(value);
  return ok ? { value, requestId } : undefined;
}

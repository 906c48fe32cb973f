// Query-string parameters of every read endpoint (admin API, /admin/calls, UI pages and
// exports), validated in one place by zod before anything reaches a query: bounded integers,
// instants in a sane range, amounts, cursors, and the time span and bucket count a chart may
// cover. A value outside these is a client mistake, answered 400 with the parameter named,
// never passed on to ClickHouse (whose own error would be a 500 and leak its message).
import { z } from 'zod';
import { EXPLORER_FIELDS, PRESETS, SORT_KEYS } from './explorer-params.ts';
import { FEEDBACK_FILTERS } from './feedback-filter.ts';

const DAY_MS = 86_400_000;

/** The documented maximums (README, "Limits"). */
export const READ_BOUNDS = {
  /** Instants accepted anywhere: [earliest, latest). */
  earliest: Date.UTC(2000, 0, 1),
  latest: Date.UTC(2100, 0, 1),
  /** Longest span a dashboard chart covers. */
  maxSpanMs: 400 * DAY_MS,
  /** Most points (buckets) on one chart; the bucket width is chosen from the span to stay under it. */
  maxBuckets: 200,
  /** Largest cost (USD) or latency (ms) a filter or cursor may name. */
  maxAmount: 1e12,
  /** Longest free-text filter value (model, key, search text, …). */
  maxText: 200,
} as const;

export class ReadParamError extends Error {
  override readonly name = 'ReadParamError';
  readonly status = 400;
  readonly code = 'invalid_query_parameter';
  readonly param: string;
  constructor(param: string, message: string) {
    super(message);
    this.param = param;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** ms since epoch of an ISO instant, `<input type=datetime-local>` text or a date (read as UTC), inside the bounds; NaN otherwise. */
export function instantMs(v: string): number {
  const s = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00Z` : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v) ? `${v}Z` : v;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/.test(s)) return Number.NaN;
  const t = Date.parse(s);
  return t >= READ_BOUNDS.earliest && t < READ_BOUNDS.latest ? t : Number.NaN;
}

const inBounds = `between ${new Date(READ_BOUNDS.earliest).toISOString().slice(0, 10)} and ${new Date(READ_BOUNDS.latest).toISOString().slice(0, 10)}`;

/** An instant → its ISO form. */
export const Instant = z
  .string()
  .refine((v) => Number.isFinite(instantMs(v)), { message: `must be an ISO-8601 UTC date or time (YYYY-MM-DD[Thh:mm[:ss[.sss]][Z]]) ${inBounds}` })
  .transform((v) => new Date(instantMs(v)).toISOString());

/** A non-negative decimal (no exponent), at most READ_BOUNDS.maxAmount. */
export const Amount = z
  .string()
  .regex(/^\d{1,13}(\.\d{1,12})?$/, { message: 'must be a non-negative decimal number' })
  .refine((v) => Number(v) <= READ_BOUNDS.maxAmount, { message: `must be at most ${READ_BOUNDS.maxAmount}` });

/** The page size of a list: a whole number from 1; more than `max` is read as `max` (scripts ask for "all"). */
export const Limit = (max: number): z.ZodType<number, string> =>
  z
    .string()
    .regex(/^\d{1,7}$/, { message: 'must be a whole number' })
    .transform(Number)
    .refine((n) => n >= 1, { message: 'must be at least 1' })
    .transform((n) => Math.min(n, max));

/** Bounded free text (filter values). */
export const Text = z.string().max(READ_BOUNDS.maxText, { message: `must be at most ${READ_BOUNDS.maxText} characters` });

/** A call's outcome as list filters name it. */
export const Status = z.enum(['ok', 'error'], { message: 'must be ok or error' });

/** Keyset cursor `<ISO time>_<request id>` (the time sort). */
export const TimeCursor = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z_[0-9a-f-]{36}$/i, { message: 'must be <ISO time>_<request id>' })
  .refine((v) => Number.isFinite(instantMs(v.slice(0, 24))) && UUID.test(v.slice(25)), { message: `must be <ISO time ${inBounds}>_<request id>` })
  .transform((v) => ({ value: v.slice(0, 24), requestId: v.slice(25) }));

/** Keyset cursor `<number>_<request id>` (value sorts; -1 stands for "no cost"). */
export const ValueCursor = z
  .string()
  .regex(/^-?\d{1,13}(\.\d+)?(e-\d{1,3})?_[0-9a-f-]{36}$/i, { message: 'must be <number>_<request id>' })
  .refine((v) => UUID.test(v.slice(v.lastIndexOf('_') + 1)) && Math.abs(Number(v.slice(0, v.lastIndexOf('_')))) <= READ_BOUNDS.maxAmount, {
    message: `must be <number up to ${READ_BOUNDS.maxAmount}>_<request id>`,
  })
  .transform((v) => ({ value: v.slice(0, v.lastIndexOf('_')), requestId: v.slice(v.lastIndexOf('_') + 1) }));

/** Keyset cursor `<text>_<request id>` (the key and user sorts). */
export const TextCursor = z
  .string()
  .max(READ_BOUNDS.maxText + 37, { message: 'is too long' })
  .refine((v) => v.lastIndexOf('_') >= 0 && UUID.test(v.slice(v.lastIndexOf('_') + 1)), { message: 'must be <text>_<request id>' })
  .transform((v) => ({ value: v.slice(0, v.lastIndexOf('_')), requestId: v.slice(v.lastIndexOf('_') + 1) }));

/**
 * The parameters `shape` names, read from a query string and validated (absent or empty =
 * undefined; a repeated parameter is refused). Throws ReadParamError naming the first bad one.
 */
export function readParams<S extends z.ZodRawShape>(shape: S, params: URLSearchParams): z.infer<z.ZodObject<S>> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(shape)) {
    const all = params.getAll(name);
    if (all.length > 1) throw new ReadParamError(name, `Query parameter ${name} is given ${all.length} times; give it once.`);
    raw[name] = all[0] === '' ? undefined : all[0];
  }
  const r = z.object(shape).safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const name = String(issue.path[0] ?? '');
  throw new ReadParamError(name, `Query parameter ${name} ${issue.message}.`);
}

/** A dashboard's time span, checked against READ_BOUNDS: from before to, no longer than maxSpanMs. */
export function checkSpan(fromMs: number, toMs: number): void {
  if (!(fromMs < toMs)) throw new ReadParamError('from', 'Query parameter from must be earlier than to.');
  if (toMs - fromMs > READ_BOUNDS.maxSpanMs) {
    throw new ReadParamError('to', `The time range spans more than ${READ_BOUNDS.maxSpanMs / DAY_MS} days; choose a shorter one.`);
  }
}

/** Bucket widths a chart may use, in seconds; the smallest giving at most maxBuckets points is chosen. */
const STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400];

/** The bucket width (s) for a span: at most READ_BOUNDS.maxBuckets points (and about 100 or fewer when the steps allow). */
export function bucketFor(spanMs: number): number {
  const want = spanMs / 1000 / 100;
  const step = STEPS.find((s) => s >= want) ?? STEPS[STEPS.length - 1]!;
  // Epoch-aligned buckets: a span can touch one more bucket than it fills.
  if (spanMs / 1000 / step + 1 > READ_BOUNDS.maxBuckets) throw new ReadParamError('to', 'The time range is too long for one chart; choose a shorter one.');
  return step;
}

/** The requests explorer's and exports' typed parameters (explorer-params.ts reads the rest, leniently). */
export const EXPLORER_PARAMS = {
  from: Instant.optional(),
  to: Instant.optional(),
  costMin: Amount.optional(),
  costMax: Amount.optional(),
  latMin: Amount.optional(),
  latMax: Amount.optional(),
  model: Text.optional(),
  provider: Text.optional(),
  key: Text.optional(),
  team: Text.optional(),
  user: Text.optional(),
  error: Text.optional(),
  tags: Text.optional(),
  trace: Text.optional(),
  session: Text.optional(),
  q: Text.optional(),
};

/** Throws ReadParamError for the first malformed explorer parameter, the keyset cursor `before` included. */
export function checkExplorerParams(params: URLSearchParams): void {
  readParams(EXPLORER_PARAMS, params);
  const sort = params.get('sort');
  const cursor = sort === 'latency' || sort === 'cost' ? ValueCursor : sort === 'key' || sort === 'user' ? TextCursor : TimeCursor;
  readParams({ before: cursor.optional() }, params);
}

/** The explorer's choices: the UI reads a bad one as its default, the admin API refuses it. */
const choice = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { message: `must be one of ${values.join(', ')}` }).optional();
const EXPLORER_CHOICES = {
  range: choice(Object.keys(PRESETS) as [keyof typeof PRESETS, ...(keyof typeof PRESETS)[]]),
  status: choice(['ok', 'error']),
  cache: choice(['hit', 'miss']),
  stream: choice(['yes', 'no']),
  replay: choice(['yes', 'no']),
  match: choice(['words', 'part']),
  feedback: choice(FEEDBACK_FILTERS),
  sort: choice(SORT_KEYS),
  dir: choice(['asc', 'desc']),
};

/**
 * The admin API's reading of explorer parameters: every one checked (choices too), and a
 * parameter it does not know refused — a misspelt filter (`?tema=red`) would otherwise widen
 * the answer or the export to every call. `extra` names the endpoint's own parameters (a
 * list's page size and cursor, `before`).
 */
export function checkExplorerApiParams(params: URLSearchParams, extra: readonly string[] = []): void {
  const known = new Set<string>([...EXPLORER_FIELDS, ...extra]);
  for (const name of new Set(params.keys())) {
    if (!known.has(name)) throw new ReadParamError(name, `Unknown query parameter ${JSON.stringify(name.slice(0, 64))}; the filters are ${[...EXPLORER_FIELDS].join(', ')}.`);
  }
  readParams(EXPLORER_CHOICES, params);
  checkExplorerParams(params);
}

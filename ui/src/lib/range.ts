// Time ranges for the dashboards: a preset counted back from now, or absolute from/to (UTC),
// with a bucket width that keeps a chart at most READ_BOUNDS.maxBuckets points. A range that
// is malformed, inverted or longer than READ_BOUNDS.maxSpanMs throws ReadParamError (a 400).
import { bucketFor, checkSpan, Instant, readParams } from '@gatelog/core/store/read-params';
import { PRESETS, type Preset } from '#lib/explorer.ts';

export { bucketFor };

export interface Range {
  preset: Preset | '';
  from: string;
  to: string;
  bucketSeconds: number;
}

export function parseRange(params: URLSearchParams, fallback: Preset, now: number = Date.now()): Range {
  const { from, to } = readParams({ from: Instant.optional(), to: Instant.optional() }, params);
  const p = params.get('range') ?? '';
  if (!Object.hasOwn(PRESETS, p) && from && to) {
    const span = Date.parse(to) - Date.parse(from);
    checkSpan(Date.parse(from), Date.parse(to));
    return { preset: '', from, to, bucketSeconds: bucketFor(span) };
  }
  const preset = Object.hasOwn(PRESETS, p) ? (p as Preset) : fallback;
  const span = PRESETS[preset];
  // Round the end up to the next minute so the newest bucket is whole and links are stable.
  const end = Math.ceil(now / 60_000) * 60_000;
  return { preset, from: new Date(end - span).toISOString(), to: new Date(end).toISOString(), bucketSeconds: bucketFor(span) };
}

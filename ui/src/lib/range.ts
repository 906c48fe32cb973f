// Time ranges for the dashboards: a preset counted back from now, or absolute from/to
// (UTC), with a bucket width that keeps a chart around 60–120 points.
import { parseInstant, PRESETS, type Preset } from '#lib/explorer.ts';

export interface Range {
  preset: Preset | '';
  from: string;
  to: string;
  bucketSeconds: number;
}

const STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];

export function bucketFor(spanMs: number): number {
  const want = spanMs / 1000 / 100;
  return STEPS.find((s) => s >= want) ?? 86400;
}

export function parseRange(params: URLSearchParams, fallback: Preset, now: number = Date.now()): Range {
  const from = parseInstant(params.get('from') ?? '');
  const to = parseInstant(params.get('to') ?? '');
  const p = params.get('range') ?? '';
  if (!Object.hasOwn(PRESETS, p) && from && to && Date.parse(from) < Date.parse(to)) {
    return { preset: '', from, to, bucketSeconds: bucketFor(Date.parse(to) - Date.parse(from)) };
  }
  const preset = Object.hasOwn(PRESETS, p) ? (p as Preset) : fallback;
  const span = PRESETS[preset];
  // Round the end up to the next minute so the newest bucket is whole and links are stable.
  const end = Math.ceil(now / 60_000) * 60_000;
  return { preset, from: new Date(end - span).toISOString(), to: new Date(end).toISOString(), bucketSeconds: bucketFor(span) };
}

// A spike explained: the bucket [at, at + bucket) against the average of the `base` buckets
// before it, decomposed into factors (core/src/spend-decompose.ts documents the method) and
// into the dimension values that contributed the change, each linked to its calls.
import { error } from '@sveltejs/kit';
import { z } from 'zod';
import { spikeBreakdown, BREAKDOWN_DIMS, type BreakdownDim } from '@gatelog/core/store/spend-queries';
import { contributors, decompose, FACTOR_LABELS, type Contributor } from '@gatelog/core/spend-decompose';
import { Instant, READ_BOUNDS, readParams, ReadParamError, Text } from '@gatelog/core/store/read-params';
import { callsHref, topCallsHref } from '#lib/spend-links.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { scopeOf } from '#lib/server/permissions.server.ts';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import type { PageServerLoad } from './$types';

const Whole = (min: number, max: number): z.ZodType<number, string> =>
  z.string().regex(/^\d{1,7}$/, { message: 'must be a whole number' }).transform(Number).refine((n) => n >= min && n <= max, { message: `must be from ${min} to ${max}` });

const PARAMS = {
  at: Instant,
  /** Bucket width in seconds: whole minutes, at most a week. */
  bucket: Whole(60, 7 * 86_400).refine((n) => n % 60 === 0, { message: 'must be whole minutes (a multiple of 60)' }),
  /** Baseline buckets before the spike. */
  base: Whole(1, 48).optional(),
  tag: Text.optional(),
  /** The chart series that spiked (dimension and value); without them, the whole bucket. */
  dim: z.enum(BREAKDOWN_DIMS, { message: `must be one of ${BREAKDOWN_DIMS.join(', ')}` }).optional(),
  value: Text.optional(),
};

export const load: PageServerLoad = async ({ url, locals }) => {
  const p = readOr400(() => {
    const v = readParams(PARAMS, url.searchParams);
    const base = v.base ?? 12;
    if ((base + 1) * v.bucket * 1000 > READ_BOUNDS.maxSpanMs) throw new ReadParamError('base', 'The baseline spans too long a time; choose fewer or shorter buckets.');
    return { ...v, base };
  });
  const atMs = Date.parse(p.at);
  const to = new Date(atMs + p.bucket * 1000).toISOString();
  const baseFrom = new Date(atMs - p.base * p.bucket * 1000).toISOString();
  const { store } = await uiContext();
  try {
    const focus = p.dim && p.value !== undefined && (p.dim !== 'tag' || p.tag) ? { dim: p.dim, value: p.value } : undefined;
    const rows = await spikeBreakdown(store, { baseFrom, at: p.at, to, tagKey: p.tag, focus, ...scopeOf(locals.principal) });
    const model = rows.filter((r) => r.dim === 'model');
    const d = decompose(model.filter((r) => r.side === 'before'), model.filter((r) => r.side === 'after'), p.base);
    const dims = BREAKDOWN_DIMS.filter((dim) => dim !== 'tag' || p.tag).map((dim: BreakdownDim) => ({
      dim,
      title: dim === 'tag' ? `tag ${p.tag}` : dim,
      top: contributors(rows.filter((r) => r.dim === dim), p.base, d.delta).map((c: Contributor) => ({
        ...c,
        driverLabel: c.driver ? FACTOR_LABELS[c.driver] : '',
        href: callsHref(dim, c.value, p.at, to, p.tag, true),
      })),
    }));
    const factors = d.factors.map((f) => ({ ...f, label: FACTOR_LABELS[f.factor] }));
    const series = focus ? { title: focus.dim === 'tag' ? `tag ${p.tag}` : focus.dim, value: focus.value, href: callsHref(focus.dim, focus.value, p.at, to, p.tag, true) } : undefined;
    return { series, at: p.at, to, baseFrom, bucket: p.bucket, base: p.base, tag: p.tag ?? '', before: d.before, after: d.after, delta: d.delta, factors, signals: d.signals, dims, topCalls: series?.href ?? topCallsHref(p.at, to) };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: spike breakdown failed', err);
    error(503, 'The calls behind this spike are not available right now.');
  }
};

// Why did a spend bucket cost more than its baseline? A pure, exact, additive decomposition
// of Δcost between a baseline (trailing buckets, averaged to one bucket) and a spike bucket.
//
// Method. Cost is written as a product of factors (an identity, true by construction):
//
//   C = N · r · k · p      N = calls, r = Nb/N (share of calls not served by the response
//                          cache), k = Tb/Nb (tokens per billable call), p = C/Tb (USD per token)
//
// and Δcost is split with the additive LMDI (log-mean Divisia index, Ang 2004: "Decomposition
// analysis for policymaking in energy", Energy Policy 32): effect(x) = L(C1, C0) · ln(x1/x0)
// with L(a, b) = (a − b) / (ln a − ln b). The four effects sum to C1 − C0 exactly, with no
// residual, and do not depend on the order of the factors (unlike a chained substitution).
// Two factors are then split further, in proportion to their exact differences:
//  - k into input and output tokens per call (k = in/Nb + out/Nb);
//  - p into model mix and price within a model: p = Σ_m s_m·p_m (s_m = model m's share of
//    billable tokens, p_m its USD per token), Δp = Σ Δs_m·p̄_m + Σ s̄_m·Δp_m with midpoint
//    weights (exact for two factors); a model absent on one side has no price change there.
// Zeros (no baseline spend, all calls cached, unpriced calls) make a logarithm undefined: the
// whole change then goes to the first factor that was zero (new traffic → volume, etc.).
// Retries/fallbacks (attempts > 1) and errors are not factors of the identity (a retried call
// is still one call); they are reported as signals beside it: their rate on each side and the
// change in cost of the calls they touched.

export interface SpendAgg {
  calls: number;
  cost: number;
  /** Calls not served by the response cache. */
  billable: number;
  /** Tokens of billable calls. */
  inTokens: number;
  outTokens: number;
  errors: number;
  /** Calls with more than one attempt (retries, fallbacks). */
  retried: number;
  retriedCost: number;
  errorCost: number;
}

export interface ModelAgg extends SpendAgg {
  model: string;
}

export const FACTORS = ['volume', 'cache', 'input_tokens', 'output_tokens', 'model_mix', 'model_price'] as const;
export type Factor = (typeof FACTORS)[number];

export const FACTOR_LABELS: Record<Factor, string> = {
  volume: 'call volume',
  cache: 'response-cache hit rate',
  input_tokens: 'input tokens per call',
  output_tokens: 'output tokens per call',
  model_mix: 'model mix (price per token)',
  model_price: 'price per token within a model',
};

export interface FactorEffect {
  factor: Factor;
  usd: number;
  /** Share of the total change (signed; NaN-free: 0 when the total change is 0). */
  share: number;
  /** The measure on each side (per bucket), for the explanation. */
  before: number;
  after: number;
}

export interface Signal {
  signal: 'retries' | 'errors';
  rateBefore: number;
  rateAfter: number;
  /** Change in the cost of the calls it touched. */
  usd: number;
}

export interface Decomposition {
  before: SpendAgg;
  after: SpendAgg;
  delta: number;
  /** Largest |usd| first; the sum of usd is `delta`. */
  factors: FactorEffect[];
  signals: Signal[];
}

export const ZERO: SpendAgg = { calls: 0, cost: 0, billable: 0, inTokens: 0, outTokens: 0, errors: 0, retried: 0, retriedCost: 0, errorCost: 0 };

export function addAgg(a: SpendAgg, b: SpendAgg, scale = 1): SpendAgg {
  const out = { ...a };
  for (const k of Object.keys(ZERO) as (keyof SpendAgg)[]) out[k] = a[k] + b[k] * scale;
  return out;
}

const EPS = 1e-12;
const logMean = (a: number, b: number): number => (Math.abs(a - b) < EPS * Math.max(1, a, b) ? (a + b) / 2 : (a - b) / (Math.log(a) - Math.log(b)));
const div = (a: number, b: number): number => (b > 0 ? a / b : 0);

/** Splits `total` over parts in proportion to their raw differences (all to `fallback` when those cancel). */
function split(total: number, parts: number[], fallback: number): number[] {
  const sum = parts.reduce((s, x) => s + x, 0);
  if (Math.abs(sum) < EPS) return parts.map((_, i) => (i === fallback ? total : 0));
  return parts.map((x) => (total * x) / sum);
}

/** Model mix vs price within a model: exact midpoint split of Δ(USD per token). */
function mixAndRate(before: readonly ModelAgg[], after: readonly ModelAgg[], tb0: number, tb1: number): [mix: number, rate: number] {
  const models = new Map<string, [ModelAgg | undefined, ModelAgg | undefined]>();
  for (const m of before) models.set(m.model, [m, models.get(m.model)?.[1]]);
  for (const m of after) models.set(m.model, [models.get(m.model)?.[0], m]);
  let mix = 0;
  let rate = 0;
  for (const [b, a] of models.values()) {
    const t0 = (b?.inTokens ?? 0) + (b?.outTokens ?? 0);
    const t1 = (a?.inTokens ?? 0) + (a?.outTokens ?? 0);
    const s0 = div(t0, tb0);
    const s1 = div(t1, tb1);
    const p1 = t1 > 0 ? (a?.cost ?? 0) / t1 : undefined;
    const p0 = t0 > 0 ? (b?.cost ?? 0) / t0 : undefined;
    const q0 = p0 ?? p1 ?? 0;
    const q1 = p1 ?? p0 ?? 0;
    mix += (s1 - s0) * ((q0 + q1) / 2);
    rate += ((s0 + s1) / 2) * (q1 - q0);
  }
  return [mix, rate];
}

function sumModels(rows: readonly ModelAgg[], scale = 1): SpendAgg {
  return rows.reduce<SpendAgg>((acc, r) => addAgg(acc, r, scale), { ...ZERO });
}

/**
 * Decomposes the change from `before` (summed over `baseBuckets` buckets, averaged here) to
 * `after` (one bucket). Rows are per model (the model mix needs them).
 */
export function decompose(beforeRows: readonly ModelAgg[], afterRows: readonly ModelAgg[], baseBuckets = 1): Decomposition {
  const scale = 1 / Math.max(1, baseBuckets);
  const before0 = beforeRows.map((r) => ({ ...addAgg(ZERO, r, scale), model: r.model }));
  const b = sumModels(before0);
  const a = sumModels(afterRows);
  const delta = a.cost - b.cost;
  const tb0 = b.inTokens + b.outTokens;
  const tb1 = a.inTokens + a.outTokens;
  const x0 = [b.calls, div(b.billable, b.calls), div(tb0, b.billable), div(b.cost, tb0)];
  const x1 = [a.calls, div(a.billable, a.calls), div(tb1, a.billable), div(a.cost, tb1)];
  const effects = [0, 0, 0, 0];
  if (Math.abs(delta) >= EPS) {
    const zero = x0.findIndex((v, i) => !(v > 0) || !((x1[i] ?? 0) > 0));
    if (zero >= 0 || !(b.cost > 0) || !(a.cost > 0)) effects[Math.max(0, zero)] = delta;
    else {
      const w = logMean(a.cost, b.cost);
      x0.forEach((v, i) => (effects[i] = w * Math.log((x1[i] ?? 0) / v)));
    }
  }
  const [vol = 0, cache = 0, tokens = 0, price = 0] = effects;
  const [inFx = 0, outFx = 0] = split(tokens, [div(a.inTokens, a.billable) - div(b.inTokens, b.billable), div(a.outTokens, a.billable) - div(b.outTokens, b.billable)], 0);
  const [mix = 0, rate = 0] = split(price, mixAndRate(before0, afterRows, tb0, tb1), 0);
  const measures: Record<Factor, [number, number, number]> = {
    volume: [vol, b.calls, a.calls],
    cache: [cache, 1 - div(b.billable, b.calls), 1 - div(a.billable, a.calls)],
    input_tokens: [inFx, div(b.inTokens, b.billable), div(a.inTokens, a.billable)],
    output_tokens: [outFx, div(b.outTokens, b.billable), div(a.outTokens, a.billable)],
    model_mix: [mix, div(b.cost, tb0), div(a.cost, tb1)],
    model_price: [rate, div(b.cost, tb0), div(a.cost, tb1)],
  };
  const factors = FACTORS.map((factor) => {
    const [usd, before, after] = measures[factor];
    return { factor, usd, share: Math.abs(delta) >= EPS ? usd / delta : 0, before, after };
  }).sort((p, q) => Math.abs(q.usd) - Math.abs(p.usd));
  const signals: Signal[] = [
    { signal: 'retries' as const, rateBefore: div(b.retried, b.calls), rateAfter: div(a.retried, a.calls), usd: a.retriedCost - b.retriedCost },
    { signal: 'errors' as const, rateBefore: div(b.errors, b.calls), rateAfter: div(a.errors, a.calls), usd: a.errorCost - b.errorCost },
  ].sort((p, q) => Math.abs(q.usd) - Math.abs(p.usd));
  return { before: b, after: a, delta, factors, signals };
}

export interface Contributor {
  value: string;
  before: number;
  after: number;
  delta: number;
  /** Of the total change. */
  share: number;
  /** What drove this value's own change (its largest factor). */
  driver: Factor | undefined;
}

/**
 * The values of one dimension ranked by their contribution to the total change (largest
 * increase first). Rows are per (value, model); `baseBuckets` as in decompose().
 */
export function contributors(rows: readonly (ModelAgg & { value: string; side: 'before' | 'after' })[], baseBuckets: number, totalDelta: number, limit = 5): Contributor[] {
  const byValue = new Map<string, { before: ModelAgg[]; after: ModelAgg[] }>();
  for (const r of rows) {
    let v = byValue.get(r.value);
    if (!v) byValue.set(r.value, (v = { before: [], after: [] }));
    v[r.side].push(r);
  }
  const out: Contributor[] = [];
  for (const [value, v] of byValue) {
    const d = decompose(v.before, v.after, baseBuckets);
    const top = d.factors[0];
    out.push({ value, before: d.before.cost, after: d.after.cost, delta: d.delta, share: Math.abs(totalDelta) >= EPS ? d.delta / totalDelta : 0, driver: top && Math.abs(top.usd) >= EPS ? top.factor : undefined });
  }
  return out.sort((p, q) => q.delta - p.delta || p.value.localeCompare(q.value)).slice(0, limit);
}

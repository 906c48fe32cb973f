// A small bounded load generator on an undici Pool: sequential latency samples at
// concurrency 1, and closed-loop throughput (N workers, fixed duration) for JSON calls and
// fully consumed SSE streams. Every response is checked (status 200, stream ends in [DONE]).
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface LoadTarget {
  name: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** The request body for a plain or a streamed call. */
  body(stream: boolean): Buffer;
}

export interface Outcome {
  ok: number;
  errors: number;
  firstError: string | null;
}

export interface LatencyResult extends Outcome {
  /** Successful warm-up calls (not measured, but made). */
  warmupOk: number;
  /** Successful call latencies, ms, sorted. */
  samples: Float64Array;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface ThroughputResult extends Outcome {
  perSecond: number;
  seconds: number;
}

const DONE = Buffer.from('data: [DONE]');
/** Bounded: a hung target fails the phase instead of hanging the bench. */
const TIMEOUTS = { headersTimeout: 10_000, bodyTimeout: 10_000 } as const;

function newOutcome(): Outcome {
  return { ok: 0, errors: 0, firstError: null };
}

function fail(o: Outcome, msg: string): void {
  o.errors++;
  o.firstError ??= msg;
}

/** One call, body fully read; true when it succeeded. */
async function call(pool: Pool, t: LoadTarget, payload: Buffer, stream: boolean, o: Outcome): Promise<boolean> {
  try {
    const res = await pool.request({ method: 'POST', path: t.path, headers: t.headers, body: payload });
    let prev: Buffer = Buffer.alloc(0);
    let tail: Buffer = Buffer.alloc(0);
    for await (const part of res.body as AsyncIterable<Buffer>) {
      prev = tail;
      tail = part;
    }
    if (res.statusCode !== 200) {
      fail(o, `HTTP ${res.statusCode}: ${tail.toString().slice(0, 300)}`);
      return false;
    }
    // The [DONE] marker may straddle the last two reads.
    if (stream && Buffer.concat([prev.subarray(-16), tail]).indexOf(DONE) === -1) {
      fail(o, `stream did not end with [DONE]: ${tail.toString().slice(-200)}`);
      return false;
    }
    o.ok++;
    return true;
  } catch (err) {
    fail(o, err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err));
    return false;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * `warmup` unmeasured then `n` measured sequential calls on one keep-alive connection; with
 * `leadInMs`, unmeasured calls go on until that long after the first (see BlockTiming).
 */
export async function measureLatency(t: LoadTarget, n: number, warmup: number, leadInMs = 0): Promise<LatencyResult> {
  const pool = new Pool(t.origin, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000, ...TIMEOUTS });
  const payload = t.body(false);
  const o = newOutcome();
  const samples = new Float64Array(n);
  const warm = newOutcome();
  let got = 0;
  try {
    const leadInEnd = performance.now() + leadInMs;
    for (let i = 0; i < warmup || performance.now() < leadInEnd; i++) await call(pool, t, payload, false, warm);
    for (let i = 0; i < n; i++) {
      const start = process.hrtime.bigint();
      const ok = await call(pool, t, payload, false, o);
      const ns = process.hrtime.bigint() - start;
      if (ok) samples[got++] = Number(ns) / 1e6;
    }
  } finally {
    await pool.close();
  }
  const sorted = samples.subarray(0, got).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { ...o, warmupOk: warm.ok, samples: sorted, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), meanMs: got ? sum / got : NaN };
}

export interface PairedLatency {
  target: LatencyResult;
  /** The reference measured in the same time windows as the target. */
  reference: LatencyResult;
}

/**
 * Target and reference latency measured in alternating blocks, so that a burst of other
 * work on a shared machine hits both alike and the difference stays meaningful.
 */
export async function measurePairedLatency(t: LoadTarget, ref: LoadTarget, n: number, warmup: number, blocks = 6): Promise<PairedLatency> {
  const [target, reference] = await measureInterleavedLatency([t, ref], n, warmup, blocks);
  return { target: target!, reference: reference! };
}

/**
 * How each interleaved block is framed. A target may work in the background on a timer: the
 * distributed proxy's relay sends what the calls appended `bus.batch_ms` after the first of them
 * (compressing a batch takes the target's core for a few ms). Blocks of a few hundred calls
 * (~200 ms) used to end before that send, which then landed in the next target's block: the
 * proxy's p99 read too low and the direct calls' and passthrough's too high (an A/A run of
 * c1-probe.ts read 0.31 vs 2.45 ms added p99 for two identical proxies). So each block starts
 * with `leadInMs` of unmeasured calls (longer than the linger: the target is in its steady state,
 * sends on its own timer, when measuring starts) and is followed by `gapMs` of quiet (longer than
 * the linger plus a send: what the block left behind is done before the next target's block).
 */
export interface BlockTiming {
  leadInMs: number;
  gapMs: number;
}

/** Lead-in and gap for targets whose background work lingers up to `lingerMs` (bus.batch_ms). */
export function blockTiming(lingerMs: number): BlockTiming {
  return { leadInMs: lingerMs + 100, gapMs: lingerMs + 100 };
}

/**
 * Each target's latency over `n` calls, measured in `blocks` rounds of one block per target
 * (by default blocks of ~500 calls, at least 6 rounds; the order reversed every other round, so
 * no target always follows the same one): a slow phase of a shared machine hits all of them alike.
 */
export async function measureInterleavedLatency(
  targets: readonly LoadTarget[], n: number, warmup: number, blocks = Math.max(6, Math.round(n / 500)), timing: BlockTiming = { leadInMs: 0, gapMs: 0 },
): Promise<LatencyResult[]> {
  const per = Math.max(1, Math.ceil(n / blocks));
  const parts: LatencyResult[][] = targets.map(() => []);
  for (let b = 0; b < blocks; b++) {
    const w = b === 0 ? warmup : Math.min(20, warmup);
    const order = targets.map((_, i) => i);
    if (b % 2 === 1) order.reverse();
    for (const i of order) {
      parts[i]!.push(await measureLatency(targets[i]!, per, w, timing.leadInMs));
      if (timing.gapMs > 0) await sleep(timing.gapMs);
    }
  }
  return parts.map(merge);
}

function merge(rs: LatencyResult[]): LatencyResult {
  const all = Float64Array.from(rs.flatMap((r) => Array.from(r.samples))).sort();
  let sum = 0;
  for (const v of all) sum += v;
  return {
    ok: rs.reduce((a, r) => a + r.ok, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    firstError: rs.find((r) => r.firstError)?.firstError ?? null,
    warmupOk: rs.reduce((a, r) => a + r.warmupOk, 0),
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    meanMs: all.length ? sum / all.length : NaN,
    samples: all,
  };
}

/** `concurrency` closed-loop workers for `durationMs`; completed calls per second. */
export async function measureThroughput(t: LoadTarget, opts: { concurrency: number; durationMs: number; stream: boolean }): Promise<ThroughputResult> {
  const pool = new Pool(t.origin, { connections: opts.concurrency, pipelining: 1, keepAliveTimeout: 60_000, ...TIMEOUTS });
  const payload = t.body(opts.stream);
  const o = newOutcome();
  const start = performance.now();
  const deadline = start + opts.durationMs;
  const worker = async (): Promise<void> => {
    // Stop early on a broken target rather than spinning through thousands of errors.
    while (performance.now() < deadline && o.errors < 1000) await call(pool, t, payload, opts.stream, o);
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return { ...o, perSecond: o.ok / seconds, seconds };
}

/** One call of each kind asked for: does the target answer correctly at all? */
export async function probe(t: LoadTarget, stream: boolean): Promise<Outcome> {
  const pool = new Pool(t.origin, { connections: 1, ...TIMEOUTS });
  const o = newOutcome();
  try {
    await call(pool, t, t.body(stream), stream, o);
  } finally {
    await pool.close();
  }
  return o;
}

export interface FixedRateResult extends Outcome {
  /** Calls asked for per second, and completed per second over the run. */
  rate: number;
  perSecond: number;
  /** Calls not started because `maxInFlight` were still open (the target fell behind). */
  skipped: number;
}

/**
 * Open loop: calls start on a fixed schedule (`rate` per second) whether or not earlier ones
 * finished, up to `maxInFlight` open at once; `tick` runs once per second (e.g. to sample the
 * target's metrics). Unlike the closed loop, this asks "does it keep up at this rate?".
 */
export async function measureFixedRate(t: LoadTarget, opts: { rate: number; durationMs: number; maxInFlight: number; tick?: (elapsedS: number) => Promise<void> }): Promise<FixedRateResult> {
  const pool = new Pool(t.origin, { connections: opts.maxInFlight, pipelining: 1, keepAliveTimeout: 60_000, ...TIMEOUTS });
  const payload = t.body(false);
  const o = newOutcome();
  const open = new Set<Promise<boolean>>();
  let skipped = 0;
  let started = 0;
  let nextTick = 1;
  const ticks: Promise<void>[] = [];
  const start = performance.now();
  try {
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= opts.durationMs) break;
      if (opts.tick && elapsed >= nextTick * 1000) ticks.push(opts.tick(nextTick++));
      const due = Math.floor((elapsed / 1000) * opts.rate);
      while (started < due) {
        started++;
        if (open.size >= opts.maxInFlight) {
          skipped++;
          continue;
        }
        const p = call(pool, t, payload, false, o);
        open.add(p);
        void p.finally(() => open.delete(p));
      }
      // ~1 ms pacing: the timer's own granularity, far below the gap between calls at any rate here.
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all([...open, ...ticks]);
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return { ...o, rate: opts.rate, perSecond: o.ok / seconds, skipped };
}

// Renders one benchmark run as markdown: machine, method, the side-by-side table, the
// targets gatelog is held to, and whether its event pipeline kept up.
import { cpus, availableParallelism } from 'node:os';
import type { LatencyResult } from './load.ts';
import { ceilingCheck, type CannonResult } from './cannon.ts';
import type { DrainResult, PipelineSnapshot } from './pipeline.ts';
import { idleSchedulingWorks } from './children.ts';

export interface TargetResult {
  key: 'direct' | 'passthrough' | 'proxy' | 'gatelog' | 'portkey';
  name: string;
  latency?: LatencyResult;
  /** Direct-to-mock latency measured in blocks alternating with this target's. */
  latencyRef?: LatencyResult;
  rps?: CannonResult;
  /** Undefined when the target is not measured on SSE (printed as n/a). */
  sse?: CannonResult;
  /** CPU seconds per thread name of the target's process during the req/s run. */
  rpsCpu?: [string, number][];
  error?: string;
  note?: string;
}

export interface FixedRatePhase {
  rate: number;
  seconds: number;
  perSecond: number;
  skipped: number;
  errors: number;
  /** Events published but not yet in ClickHouse, sampled once per second. */
  lagRows: number[];
  /** The lag at the end is within 2 s of calls (one ingest interval plus the insert in flight), nothing was skipped. */
  keptUp: boolean;
}

export interface PipelineResult {
  calls: number;
  afterRps: PipelineSnapshot;
  drain: DrainResult;
  waitS: number;
  rows: { rows: number; distinct: number } | { error: string };
  /** Open-loop run at the target share of the passthrough's req/s (absent without a passthrough). */
  fixedRate?: FixedRatePhase;
}

export interface RunInfo {
  date: string;
  /** From machine(), taken before the load generator pinned itself (nproc would say 1). */
  machine: string;
  pinning: string;
  /** 1-minute load average at the start and the end: other work on the machine skews numbers. */
  load: [number, number];
  settings: { latencyN: number; c1N: number; concurrency: number; durationS: number };
  results: TargetResult[];
  pipeline: PipelineResult | null;
  /** req/s of the passthrough and gatelog in alternating blocks (run.ts pairedShare). */
  paired?: PairedShare;
}

export interface AddedLatency {
  p50Ms: number;
  p99Ms: number;
}

export interface PairedShare {
  blockS: number;
  /** Each target's warm-up before the rounds, per mode (run.ts, warmLine). */
  warmed?: string[];
  /** Added latency at c=1 over direct calls, measured in interleaved blocks before the embedded gatelog starts. */
  latency?: { passthrough: AddedLatency; proxy: AddedLatency };
  /** Per round: req/s and SSE streams/s of each, and the 1-minute load average when it began. */
  rounds: { load: number; passthrough: number; proxy: number; gatelog: number; ssePassthrough: number; sseProxy: number; sseGatelog: number }[];
  /** Medians of the rounds' gatelog / passthrough and proxy / passthrough (req/s, then SSE). */
  median: number;
  proxyMedian: number;
  sseMedian: number;
  proxySseMedian: number;
}

export const TARGET_ADDED_P50_MS = 0.3;
/** The hot-path targets: the distributed proxy (forward, capture, publish) and the embedded all-in-one. */
export const TARGETS = { proxyRps: 0.6, proxySse: 0.8, embeddedRps: 0.45, proxyAddedP50Ms: 0.15, proxyAddedP99Ms: 0.5, backlogS: 60 } as const;

/**
 * Share of the open loop's offered calls that may be skipped at its in-flight cap and still
 * count as keeping up (run.ts, fixedRatePhase): one stall of a shared host skips a handful.
 */
export const OPEN_LOOP_SKIPPED_AT_MOST = 0.001;

/** A latency over a reference taken in the same blocks, per percentile. */
export function addedOver(x: LatencyResult, ref: LatencyResult): AddedLatency {
  return { p50Ms: x.p50Ms - ref.p50Ms, p99Ms: x.p99Ms - ref.p99Ms };
}

export function machine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (nproc), ${model}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(3));
const num = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US'));
const pct = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !b ? '—' : `${Math.round((a / b) * 100)}%`;

function errorsOf(r: TargetResult): string {
  const n = (r.latency?.errors ?? 0) + (r.rps?.errors ?? 0) + (r.sse?.errors ?? 0);
  const first = r.latency?.firstError ?? r.rps?.firstError ?? r.sse?.firstError;
  if (r.error) return `failed: ${r.error.split('\n')[0]!.slice(0, 120)}`;
  return n === 0 ? '0' : `${n} (${(first ?? '').slice(0, 80)})`;
}

function cpuPerCall(r: TargetResult): string {
  if (!r.rpsCpu || !r.rps?.ok) return r.key === 'direct' ? '' : '—';
  const total = r.rpsCpu.reduce((a, [, v]) => a + v, 0);
  return ((total / r.rps.ok) * 1e6).toFixed(0);
}

/** Where the target's CPU went during the req/s run, by thread (main = the JS event loop). */
export function cpuSplit(r: TargetResult): string | null {
  if (!r.rpsCpu?.length || !r.rps) return null;
  const total = r.rpsCpu.reduce((a, [, v]) => a + v, 0);
  const parts = r.rpsCpu.slice(0, 6).map(([name, v]) => `${name} ${v.toFixed(2)} s (${Math.round((v / total) * 100)}%)`);
  return `- CPU of ${r.name} during the ${r.rps.seconds.toFixed(0)} s req/s run: ${total.toFixed(2)} s — ${parts.join(', ')}`;
}

/** The load generator's own CPU, as a share of one core, during the req/s and SSE runs. */
function loadCpu(r: TargetResult): string {
  const one = (x: CannonResult | undefined): string => (x ? `${Math.round(x.loadCpuShare * 100)}%` : '—');
  return `${one(r.rps)} · ${one(r.sse)}`;
}

export function table(info: RunInfo): string {
  const by = (k: TargetResult['key']): TargetResult | undefined => info.results.find((r) => r.key === k);
  const base = by('direct');
  const floor = by('passthrough');
  const c = info.settings.concurrency;
  const rows = [
    `| target | added p50 ms (c=1) | added p99 ms (c=1) | p50 / p99 ms (c=1) | req/s (c=${c}) | vs passthrough | CPU µs/call | SSE streams/s (c=${c}) | vs passthrough | autocannon CPU (req/s · SSE) | errors |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of info.results) {
    const isBase = r.key === 'direct';
    const ref = r.latencyRef ?? base?.latency;
    const addedP50 = isBase || !r.latency || !ref ? undefined : r.latency.p50Ms - ref.p50Ms;
    const addedP99 = isBase || !r.latency || !ref ? undefined : r.latency.p99Ms - ref.p99Ms;
    const sse = r.sse ? num(r.sse.perSecond) : r.error ? '—' : 'n/a';
    rows.push(
      `| ${r.name} | ${isBase ? '(baseline)' : ms(addedP50)} | ${isBase ? '(baseline)' : ms(addedP99)} | ${ms(r.latency?.p50Ms)} / ${ms(r.latency?.p99Ms)} | ${num(r.rps?.perSecond)} | ${r.key === 'passthrough' || isBase ? '' : pct(r.rps?.perSecond, floor?.rps?.perSecond)} | ${cpuPerCall(r)} | ${sse} | ${r.key === 'passthrough' || isBase || !r.sse ? '' : pct(r.sse.perSecond, floor?.sse?.perSecond)} | ${loadCpu(r)} | ${errorsOf(r)} |`,
    );
  }
  return rows.join('\n');
}

/** Below this share of its core, a closed-loop target at c=50 was waiting for the CPU, not for work. */
const STARVED_SHARE = 0.8;

/**
 * The other way a share is not worth trusting: the passthrough, saturated by 50 connections,
 * should keep its pinned core busy; when it used much less, other work on the machine held that
 * core and every req/s measures the scheduler's share, not the target.
 */
function targetStarved(floor: TargetResult): string | null {
  if (!floor.rpsCpu || !floor.rps) return null;
  const used = floor.rpsCpu.reduce((a, [, v]) => a + v, 0) / floor.rps.seconds;
  if (used >= STARVED_SHARE) return null;
  return `- WARNING: the passthrough used ${Math.round(used * 100)}% of its pinned core during its req/s run (a saturated target uses ~100%): other work on this machine held the target core, so req/s and shares measure the scheduler: every share below is UNTRUSTED (CPU µs/call is the steadier comparison)`;
}

export function verdicts(info: RunInfo): string[] {
  const by = (k: TargetResult['key']): TargetResult | undefined => info.results.find((r) => r.key === k);
  const g = by('gatelog');
  const base = by('direct');
  const floor = by('passthrough');
  const ref = g?.latencyRef ?? base?.latency;
  if (!g?.latency || !ref || !g.rps || !floor?.rps) return ['- gatelog targets: not evaluated (gatelog or a reference did not run)'];
  const added = g.latency.p50Ms - ref.p50Ms;
  const starved = targetStarved(floor);
  const rpsCheck = ceilingCheck('req/s', floor.rps, base?.rps);
  const sseCheck = ceilingCheck('SSE streams/s', floor.sse, base?.sse);
  if (starved) {
    rpsCheck.trusted = false;
    sseCheck.trusted = false;
  }
  const p = info.paired;
  const proxy = by('proxy');
  const seq = (x: TargetResult | undefined, k: 'rps' | 'sse'): string => (x?.[k] && floor[k] ? `${Math.round((100 * x[k].perSecond) / floor[k].perSecond)}%` : '—');
  const rounds = (f: (r: PairedShare['rounds'][number]) => [number, number]): string =>
    p ? p.rounds.map((r) => { const [a, b] = f(r); return `${Math.round(b)}/${Math.round(a)} = ${Math.round((100 * b) / a)}% at load ${r.load.toFixed(1)}`; }).join(', ') : '';
  const hot = p
    ? [
        `- proxy path (forward, capture, publish to Kafka) req/s ≥ ${TARGETS.proxyRps * 100}% of the passthrough: **${mark(p.proxyMedian >= TARGETS.proxyRps, rpsCheck.trusted)}** (median of ${p.rounds.length} paired rounds: ${Math.round(p.proxyMedian * 100)}%; ${rounds((r) => [r.passthrough, r.proxy])}; sequential table run: ${seq(proxy, 'rps')})`,
        `- proxy path SSE streams/s ≥ ${TARGETS.proxySse * 100}% of the passthrough: **${mark(p.proxySseMedian >= TARGETS.proxySse, sseCheck.trusted)}** (median ${Math.round(p.proxySseMedian * 100)}%; ${rounds((r) => [r.ssePassthrough, r.sseProxy])}; sequential: ${seq(proxy, 'sse')})`,
        `- embedded all-in-one req/s ≥ ${TARGETS.embeddedRps * 100}% of the passthrough: **${mark(p.median >= TARGETS.embeddedRps, rpsCheck.trusted)}** (median ${Math.round(p.median * 100)}%; ${rounds((r) => [r.passthrough, r.gatelog])}; SSE median ${Math.round(p.sseMedian * 100)}%: ${rounds((r) => [r.ssePassthrough, r.sseGatelog])})`,
      ]
    : [
        `- proxy path req/s / SSE vs the passthrough (sequential runs only, no paired rounds): ${seq(proxy, 'rps')} / ${seq(proxy, 'sse')}; embedded: ${seq(g, 'rps')} / ${seq(g, 'sse')}`,
      ];
  return [
    ...(starved ? [starved] : []),
    rpsCheck.line,
    sseCheck.line,
    ...hot,
    ...(p?.warmed ? [`- paired rounds' warm-ups (at least 4 blocks, until two agree within 5%): ${p.warmed.join('; ')}`] : []),
    ...backlogLine(info.pipeline?.fixedRate),
    ...c1Lines(p?.latency, c1Sequential(proxy, floor, base)),
    `- embedded (gatelog) added p50 at c=1: ${added.toFixed(3)} ms`,
  ];
}

/**
 * The embedded target's second half: at that share of the passthrough's req/s, offered as an open
 * loop, every call is served and the event log's backlog stays bounded for the whole phase. The
 * closed-loop share above lets ingest fall behind during a block and catch up between blocks;
 * this one does not.
 */
function backlogLine(f: FixedRatePhase | undefined): string[] {
  if (!f) return [];
  const offered = f.rate * f.seconds;
  return [
    `- embedded all-in-one at ${TARGETS.embeddedRps * 100}% of the passthrough's req/s (${Math.round(f.rate).toLocaleString('en-US')} calls/s, open loop), backlog bounded for ${f.seconds} s: **${mark(f.keptUp)}** (${Math.round(f.perSecond).toLocaleString('en-US')} completed/s, ${((100 * f.skipped) / Math.max(1, offered)).toFixed(2)}% of the offered calls skipped, ${f.errors} errors, events not yet in ClickHouse at the end: ${(f.lagRows.at(-1) ?? 0).toLocaleString('en-US')}, largest ${Math.max(0, ...f.lagRows).toLocaleString('en-US')})`,
  ];
}

/** A target's verdict; an untrusted run (the load side capped the reference) says so. */
function mark(ok: boolean, trusted = true): string {
  return `${ok ? 'PASS' : 'MISS'}${trusted ? '' : ' (UNTRUSTED: see the warnings above)'}`;
}

/** Added p50 / p99 of the proxy path and the passthrough from their sequential rows, each over its own direct blocks. */
function c1Sequential(proxy: TargetResult | undefined, floor: TargetResult, base: TargetResult | undefined): { proxy: AddedLatency; passthrough: AddedLatency } | null {
  const over = (t: TargetResult | undefined): AddedLatency | null => {
    const ref = t?.latencyRef ?? base?.latency;
    return t?.latency && ref ? addedOver(t.latency, ref) : null;
  };
  const px = over(proxy);
  const pt = over(floor);
  return px && pt ? { proxy: px, passthrough: pt } : null;
}

/**
 * One connection: the proxy path's added p50 / p99 against the passthrough's — from the paired
 * phase's interleaved blocks when it ran (the sequential rows' figures beside them), else from
 * the sequential rows.
 */
function c1Lines(interleaved: PairedShare['latency'], sequential: ReturnType<typeof c1Sequential>): string[] {
  const l = interleaved ?? sequential;
  if (!l) return [];
  const pair = (x: { proxy: AddedLatency; passthrough: AddedLatency }, k: keyof AddedLatency): string => `${x.proxy[k].toFixed(3)} vs ${x.passthrough[k].toFixed(3)} ms`;
  const detail = (k: keyof AddedLatency): string =>
    interleaved ? `interleaved blocks: ${pair(interleaved, k)}${sequential ? `; sequential table run: ${pair(sequential, k)}` : ''}` : pair(l, k);
  return [
    `- proxy path added p50 at c=1 ≤ passthrough's + ${TARGETS.proxyAddedP50Ms} ms: **${mark(l.proxy.p50Ms <= l.passthrough.p50Ms + TARGETS.proxyAddedP50Ms)}** (${detail('p50Ms')})`,
    `- proxy path added p99 at c=1 ≤ passthrough's + ${TARGETS.proxyAddedP99Ms} ms: **${mark(l.proxy.p99Ms <= l.passthrough.p99Ms + TARGETS.proxyAddedP99Ms)}** (${detail('p99Ms')})`,
  ];
}

function pipelineLines(p: PipelineResult | null): string[] {
  if (!p) return ['- not measured (gatelog did not run)'];
  const show = (v: number | null): string => (v === null ? 'metric absent' : Math.round(v).toLocaleString('en-US'));
  const rows = 'error' in p.rows ? `could not count (${p.rows.error})` : `${p.rows.rows.toLocaleString('en-US')} rows (${p.rows.distinct.toLocaleString('en-US')} distinct request ids)`;
  const keptUp = 'error' in p.rows ? 'unknown' : p.rows.distinct >= p.calls ? 'yes' : `no (${(p.calls - p.rows.distinct).toLocaleString('en-US')} missing)`;
  return [
    `- successful calls made to gatelog (all phases): ${p.calls.toLocaleString('en-US')}`,
    `- right after the req/s run: ingest lag ${show(p.afterRps.lagBytes)} bytes, events published ${show(p.afterRps.published)}, rows ingested ${show(p.afterRps.ingestedRows)}`,
    `- after a bounded wait (≤ ${p.waitS} s): ${p.drain.drainedAfterS === null ? 'backlog not seen to drain' : `drained in ${p.drain.drainedAfterS.toFixed(1)} s`}; ingest lag ${show(p.drain.final.lagBytes)} bytes, events published ${show(p.drain.final.published)}, rows ingested ${show(p.drain.final.ingestedRows)}, dead-lettered ${show(p.drain.final.deadLetters)}`,
    ...(p.fixedRate ? [fixedRateLine(p.fixedRate)] : []),
    `- in ClickHouse after a graceful stop: ${rows} — every call recorded: **${keptUp}**`,
  ];
}

function fixedRateLine(f: FixedRatePhase): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  return `- open loop at ${n(f.rate)} calls/s (${TARGETS.embeddedRps * 100}% of the passthrough's req/s) for ${f.seconds} s: ${n(f.perSecond)} completed/s, ${n(f.skipped)} skipped (${((100 * f.skipped) / Math.max(1, f.rate * f.seconds)).toFixed(3)}% of the offered calls; at most ${OPEN_LOOP_SKIPPED_AT_MOST * 100}% may be), ${n(f.errors)} errors; events not yet in ClickHouse, once per second: ${f.lagRows.map(n).join(', ')} — keeps up: **${f.keptUp ? 'yes' : 'no'}**`;
}

export function render(info: RunInfo): string {
  const s = info.settings;
  return [
    '# gatelog benchmarks',
    '',
    'Produced by `pnpm bench` (`test/bench/run.ts`); every number below comes from the run dated here.',
    '',
    `- date: ${info.date}`,
    `- machine: ${info.machine}`,
    `- pinning: ${info.pinning}`,
    `- 1-min load average at start / end: ${info.load[0].toFixed(2)} / ${info.load[1].toFixed(2)} (anything beyond the bench's own ~2 means other work shared the cores)`,
    `- method: each target in its own child process in front of a local mock OpenAI upstream (pre-serialized chat.completion JSON and SSE of 10 chunks + [DONE], with token usage that differs from call to call as a real provider's does: 8,192 usages in turn), loopback only. Latency: ${s.latencyN.toLocaleString('en-US')} sequential calls on one keep-alive connection, made by a process of its own on the load core, after the same warm-up at c=${s.concurrency} as the req/s run (until the rate settles; a fresh process's first calls run unoptimized code); added latency = target − direct, per percentile, with direct measured in blocks alternating with the target's (a burst of other work hits both). Throughput: ${s.concurrency} closed-loop connections for ${s.durationS} s after a warm-up of at least four 2-s blocks that lasts until two in a row agree within 5% (a new process needs seconds under load to settle), driven by autocannon in a process of its own pinned to the load core with the mock (its CPU is the autocannon column; the direct row is its ceiling in this run, and the passthrough is checked against it before any share is trusted); SSE streams are fully read (each target is first probed for a stream ending in [DONE]). The proxy row is the distributed shape: proxy/src/main.ts forwarding, capturing and publishing each event through its on-disk spool to the Kafka broker fixture (a child on the load core${idleSchedulingWorks() ? ' under SCHED_IDLE, so it takes only time the mock and the load generator leave: a real broker runs elsewhere' : ''}; it checks each batch's framing and CRC-32C and acknowledges it without inflating or decoding its records, which nothing reads, so the broker's work after each send does not delay the mock's answers to the proxy's next calls); ingest runs elsewhere in that shape and is not part of the row. Shares come from paired rounds (passthrough, proxy, embedded in alternating blocks, each warmed up the same way first), with the load average of each round; the one-connection verdicts from ${s.c1N.toLocaleString('en-US')} direct, passthrough and proxy calls each, in interleaved blocks of ~500 in that phase, before the embedded gatelog starts; every one-connection block (table rows too) starts after unmeasured calls for longer than the target's background linger (the proxy's relay sends bus.batch_ms after a call, the embedded gatelog inserts ingest.batch_ms after one) and is followed by a quiet gap as long, so a target's background work lands in its own blocks and never in another target's.`,
    '',
    table(info),
    '',
    '## Targets',
    '',
    ...verdicts(info),
    '',
    '## gatelog event pipeline (does recording keep up?)',
    '',
    ...pipelineLines(info.pipeline),
    '',
    '## CPU by thread during the req/s run',
    '',
    ...info.results.map(cpuSplit).filter((l): l is string => l !== null),
    '',
    ...info.results.filter((r) => r.note).map((r) => `- note (${r.name}): ${r.note}`),
    '',
  ].join('\n');
}

// `pnpm bench`: gatelog side by side with a direct call, a bare fastify+undici passthrough
// and Portkey's gateway, against a fast local mock upstream. Prints a markdown table and
// writes it to BENCHMARKS.md. Bounded in time; kills every child it started, even on failure.
//   node test/bench/run.ts [--quick] [--duration S] [--only direct,passthrough,proxy,gatelog,portkey] [--no-write]
// Throughput is driven by autocannon in a process of its own (cannon.ts), pinned with the mock
// upstream (and the Kafka fixture the distributed proxy publishes to) to the load core.
//   node test/bench/run.ts --routing [--quick] [--duration S]   (routing layer overhead, routing.ts)
//   node test/bench/run.ts --ingest [--quick] [--events N] [--duration S]   (bus → ClickHouse, ingest.ts)
//   node test/bench/run.ts --abuse [--quick] [--duration S] [--only attack,…]   (noisy neighbours, abuse.ts)
// BENCH_GATELOG_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds Node flags to gatelog
// BENCH_GATELOG_ROOT=<another checkout> measures that checkout's gatelog (embedded and proxy) instead of this one
// (BENCH_PASSTHROUGH_NODE_FLAGS to the passthrough).
// To compare two builds on a noisy machine, `node test/bench/ab.ts` runs them side by side (paired rounds).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { detectPinning, killAll, pinSelf } from './children.ts';
import { measureFixedRate, probe, type LoadTarget } from './load.ts';
import { latencyInChild, runCannon, warmUntilSteady, type WarmUp } from './cannon.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import type { Child } from './children.ts';
import { EMPTY, countRows, snapshot, waitForDrain, type PipelineSnapshot } from './pipeline.ts';
import { OPEN_LOOP_SKIPPED_AT_MOST, TARGETS, addedOver, cpuSplit, machine, render, table, verdicts, type FixedRatePhase, type PairedShare, type PipelineResult, type RunInfo, type TargetResult } from './report.ts';
import { cpuDelta, threadCpu } from './threads.ts';
import { currentIngestSection } from './ingest-report.ts';
import { ROOT, direct, startMockUpstream, gatelog, passthrough, portkey, timingFor, type GatelogRunning, type Running } from './targets.ts';

const KEYS = ['direct', 'passthrough', 'proxy', 'gatelog', 'portkey'] as const;
type Key = (typeof KEYS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    routing: { type: 'boolean', default: false },
    ingest: { type: 'boolean', default: false },
    abuse: { type: 'boolean', default: false },
    events: { type: 'string' },
  },
});

const quick = args.quick === true;
const durationS = Number(args.duration ?? (quick ? 2 : 10));
// The one-connection verdicts compare p99s: 3,000 calls put a p99 on its 30 slowest, and one
// burst of other work on this host moved it by ±1 ms (the passthrough's added p99 read −0.9 ms).
// The interleaved phase takes 4× as many calls of each target, in blocks of 500.
const settings = { latencyN: quick ? 300 : 3000, c1N: quick ? 1200 : 12_000, concurrency: 50, durationS };
const warmMs = quick ? 500 : 2000;
const DRAIN_WAIT_S = 15;
const NOTES_HEADING = '## Notes (kept across runs)';
const selected = (args.abuse === true ? [] : (args.only?.split(',') ?? [...KEYS])) as Key[];
for (const k of selected) if (!KEYS.includes(k)) throw new Error(`unknown target "${k}" (one of ${KEYS.join(', ')})`);

const say = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

function cleanupOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('exit', killAll);
}

let kafka: Child | undefined;
/** Where the load generator runs (taskset CPU list), set once pinning is known. */
let loadCpus: string | null = null;

async function start(key: Key, mockUrl: string, cpus: string | null): Promise<Running> {
  switch (key) {
    case 'proxy':
      kafka ??= await startKafkaFixture(loadCpus);
      return proxyService(mockUrl, kafka.ready, cpus);
    case 'direct':
      return direct(mockUrl);
    case 'passthrough':
      return passthrough(mockUrl, cpus);
    case 'gatelog':
      return gatelog(mockUrl, cpus);
    case 'portkey':
      return portkey(mockUrl, cpus);
  }
}

interface Measured {
  result: TargetResult;
  calls: number;
  afterRps: PipelineSnapshot | null;
}

async function measure(key: Key, run: Running, ref: LoadTarget): Promise<Measured> {
  const t: LoadTarget = run.target;
  const result: TargetResult = { key, name: t.name, ...(run.note ? { note: run.note } : {}) };
  let calls = 0;
  const plain = await probe(t, false);
  if (plain.ok !== 1) throw new Error(`probe failed: ${plain.firstError ?? 'unknown'}`);
  calls += plain.ok;
  let sse = run.sse;
  if (sse) {
    const streamed = await probe(t, true);
    calls += streamed.ok;
    if (streamed.ok !== 1) {
      sse = false;
      result.note = `SSE probe failed (${streamed.firstError ?? 'unknown'}): SSE not measured`;
    }
  }
  // Warm first, as for the req/s run: a fresh process's first thousands of calls run code V8
  // has not optimized yet (measured: the distributed proxy adds 0.50–0.53 ms p50 over its first
  // 3,500 calls at one connection and 0.25–0.27 once warm; the passthrough 0.22–0.24 → 0.10–0.11).
  // A proxy serves calls for days: the warm number is the one its users live with.
  say(`${t.name}: warm-up at c=${settings.concurrency}, then latency (${settings.latencyN} sequential calls)`);
  calls += (await warm(t, false)).ok;
  // In a process of its own on the load core (latency-child.ts), as autocannon runs.
  const lat = await latencyInChild(key === 'direct' ? [t] : [t, ref], settings.latencyN, quick ? 100 : 500, loadCpus, timingFor(run));
  result.latency = lat[0]!;
  if (lat[1]) result.latencyRef = lat[1];
  calls += result.latency.ok + result.latency.warmupOk;
  say(`${t.name}: req/s at c=${settings.concurrency} for ${durationS} s (autocannon, own process)`);
  calls += (await warm(t, false)).ok;
  const pid = run.child?.proc.pid;
  // The target's CPU is read while autocannon runs (its child reports when it is done).
  const cpuBefore = pid === undefined ? null : threadCpu(pid);
  const rpsRun = runCannon(t, { concurrency: settings.concurrency, durationMs: durationS * 1000, stream: false, cpus: loadCpus });
  const cpuAt = pid === undefined ? null : sampleAt(durationS * 1000 - 200, () => threadCpu(pid));
  result.rps = await rpsRun;
  const cpuAfter = await cpuAt;
  if (cpuBefore && cpuAfter) result.rpsCpu = cpuDelta(cpuBefore, cpuAfter);
  calls += result.rps.ok;
  const afterRps = key === 'gatelog' ? await snapshot(t.origin) : null;
  if (sse) {
    say(`${t.name}: SSE streams/s at c=${settings.concurrency} for ${durationS} s`);
    calls += (await warm(t, true)).ok;
    result.sse = await runCannon(t, { concurrency: settings.concurrency, durationMs: durationS * 1000, stream: true, cpus: loadCpus });
    calls += result.sse.ok;
  }
  return { result, calls, afterRps };
}

/** Under load until the target's rate has settled (cannon.ts, warmUntilSteady). */
function warm(t: LoadTarget, stream: boolean): Promise<WarmUp> {
  return warmUntilSteady(t, { concurrency: settings.concurrency, stream, cpus: loadCpus, blockMs: warmMs, minBlocks: quick ? 1 : WARM_MIN_BLOCKS, maxBlocks: quick ? 1 : WARM_MAX_BLOCKS });
}

/** How a warm-up went, for the report: "5 × 2 s: 2,805 → 5,240/s". */
function warmLine(w: WarmUp): string {
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  return `${w.blocks.length} × ${warmMs / 1000} s: ${f(w.blocks[0] ?? 0)} → ${f(w.blocks.at(-1) ?? 0)}/s${w.steady ? '' : ' (not settled)'}`;
}

const WARM_MIN_BLOCKS = 4;
const WARM_MAX_BLOCKS = 10;
const PAIRED_ROUNDS = 5;

/** The target's per-thread CPU read shortly before the measured run ends (the process outlives the run). */
function sampleAt<T>(ms: number, read: () => T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(read()), Math.max(0, ms)));
}

/**
 * The shares measured as ratios within each round: the passthrough, the distributed proxy and
 * the embedded gatelog all running on the target core, req/s and SSE streams/s in alternating
 * blocks (short, so a burst of other work on this shared machine hits neighbours alike),
 * gatelog's event backlog drained before each passthrough block so its ingest never runs during
 * one. The verdicts take the median round.
 */
async function pairedShare(mockUrl: string, cpus: string | null): Promise<PairedShare> {
  const blockS = Math.max(2, Math.round(durationS / 2));
  say(`paired: passthrough, proxy → Kafka and gatelog in alternating ${blockS} s blocks, ${PAIRED_ROUNDS} rounds`);
  const pt = await passthrough(mockUrl, cpus);
  let gl: GatelogRunning | undefined;
  let px: GatelogRunning | undefined;
  try {
    kafka ??= await startKafkaFixture(loadCpus);
    px = await proxyService(mockUrl, kafka.ready, cpus);
    // One connection: the passthrough and the proxy side by side with direct calls, in
    // interleaved blocks, so the verdicts compare added latencies taken in the same minutes. Before
    // the embedded gatelog starts: its inserts and merges on the same core would slow both.
    for (const t of [pt, px]) await warm(t.target, false);
    const [d, ...lat] = await latencyInChild([direct(mockUrl).target, pt.target, px.target], settings.c1N, quick ? 100 : 500, loadCpus, timingFor(px));
    const latency = { passthrough: addedOver(lat[0]!, d!), proxy: addedOver(lat[1]!, d!) };
    say(`paired: added latency at c=1 (p50 / p99 ms): passthrough ${latency.passthrough.p50Ms.toFixed(3)} / ${latency.passthrough.p99Ms.toFixed(3)}, proxy ${latency.proxy.p50Ms.toFixed(3)} / ${latency.proxy.p99Ms.toFixed(3)}`);
    gl = await gatelog(mockUrl, cpus);
    const opts = { concurrency: settings.concurrency, durationMs: blockS * 1000, cpus: loadCpus };
    const warmed: string[] = [];
    for (const [name, t] of [['passthrough', pt], ['proxy', px], ['gatelog', gl]] as const) {
      for (const stream of [false, true]) {
        const w = await warm(t.target, stream);
        warmed.push(`${name} ${stream ? 'SSE' : 'JSON'} ${warmLine(w)}`);
      }
    }
    say(`paired: warmed up (${warmed.join('; ')})`);
    const rounds: PairedShare['rounds'] = [];
    for (let i = 0; i < PAIRED_ROUNDS; i++) {
      const round: Partial<PairedShare['rounds'][number]> = { load: loadavg()[0] ?? 0 };
      for (const stream of [false, true]) {
        // Ingest caught up with everything gatelog has published so far.
        await waitForDrain(gl.target.origin, (await snapshot(gl.target.origin)).published ?? 0, DRAIN_WAIT_S * 1000);
        const a = await runCannon(pt.target, { ...opts, stream });
        const c = await runCannon(px.target, { ...opts, stream });
        const b = await runCannon(gl.target, { ...opts, stream });
        if (a.errors + b.errors + c.errors > 0) throw new Error(`paired: ${a.errors} passthrough / ${c.errors} proxy / ${b.errors} gatelog errors (${a.firstError ?? c.firstError ?? b.firstError ?? ''})`);
        if (stream) Object.assign(round, { ssePassthrough: a.perSecond, sseProxy: c.perSecond, sseGatelog: b.perSecond });
        else Object.assign(round, { passthrough: a.perSecond, proxy: c.perSecond, gatelog: b.perSecond });
        say(`paired round ${i + 1} ${stream ? 'SSE' : 'JSON'}: passthrough ${Math.round(a.perSecond)}, proxy ${Math.round(c.perSecond)} (${Math.round((100 * c.perSecond) / a.perSecond)}%), gatelog ${Math.round(b.perSecond)} (${Math.round((100 * b.perSecond) / a.perSecond)}%) per s; autocannon CPU ${Math.round(a.loadCpuShare * 100)}% of a core on the passthrough · load ${round.load!.toFixed(1)}`);
      }
      rounds.push(round as PairedShare['rounds'][number]);
    }
    const median = (f: (r: PairedShare['rounds'][number]) => number): number => rounds.map(f).sort((x, y) => x - y)[Math.floor(rounds.length / 2)]!;
    return {
      blockS,
      warmed,
      latency,
      rounds,
      median: median((r) => r.gatelog / r.passthrough),
      proxyMedian: median((r) => r.proxy / r.passthrough),
      sseMedian: median((r) => r.sseGatelog / r.ssePassthrough),
      proxySseMedian: median((r) => r.sseProxy / r.ssePassthrough),
    };
  } finally {
    await pt.child?.stop('SIGTERM');
    await gl?.child?.stop('SIGTERM');
    await px?.child?.stop('SIGTERM');
    if (gl) rmSync(gl.dataDir, { recursive: true, force: true });
    if (px) rmSync(px.dataDir, { recursive: true, force: true });
  }
}

/** Open loop at the embedded target share of the passthrough's req/s: does recording keep up at that rate? */
async function fixedRatePhase(t: LoadTarget, rate: number, seconds: number): Promise<{ phase: FixedRatePhase; calls: number }> {
  say(`gatelog: open loop at ${Math.round(rate)} calls/s for ${seconds} s`);
  const lagRows: number[] = [];
  const r = await measureFixedRate(t, {
    rate,
    durationMs: seconds * 1000,
    maxInFlight: 256,
    tick: async () => {
      const s = await snapshot(t.origin);
      if (s.published !== null && s.ingestedRows !== null) lagRows.push(Math.max(0, s.published - s.ingestedRows));
    },
  });
  const end = lagRows.at(-1) ?? Infinity;
  // Bounded: what one ingest interval (1 s) plus the insert in flight hold, i.e. about two seconds
  // of calls. The offered rate must have been served: a call skipped when 256 were in flight is
  // gatelog falling behind — but one stall of this shared host skips a handful of ~140,000, so
  // up to OPEN_LOOP_SKIPPED_AT_MOST of the calls may be (the line shows how many were).
  const offered = rate * seconds;
  const keptUp = r.skipped <= offered * OPEN_LOOP_SKIPPED_AT_MOST && r.errors === 0 && end <= 2 * rate;
  return { phase: { rate, seconds, perSecond: r.perSecond, skipped: r.skipped, errors: r.errors, lagRows, keptUp }, calls: r.ok };
}

async function gatelogPipeline(run: GatelogRunning, m: Measured, floorRps: number | null): Promise<PipelineResult> {
  say(`gatelog: waiting ≤ ${DRAIN_WAIT_S} s for the event pipeline to drain (${m.calls} calls)`);
  let calls = m.calls;
  const drain = await waitForDrain(run.target.origin, calls, DRAIN_WAIT_S * 1000);
  let fixedRate: FixedRatePhase | undefined;
  if (floorRps !== null && !quick) {
    const f = await fixedRatePhase(run.target, TARGETS.embeddedRps * floorRps, Math.max(durationS, TARGETS.backlogS));
    calls += f.calls;
    fixedRate = f.phase;
    await waitForDrain(run.target.origin, calls, DRAIN_WAIT_S * 1000);
  }
  await run.child?.stop('SIGTERM');
  say('gatelog: stopped; counting rows in ClickHouse');
  const rows = await countRows(run.config, run.dataDir);
  return { calls, afterRps: m.afterRps ?? EMPTY, drain, waitS: DRAIN_WAIT_S, rows, ...(fixedRate ? { fixedRate } : {}) };
}

async function main(): Promise<void> {
  cleanupOnSignals();
  if (args.routing === true) {
    const { runRoutingBench } = await import('./routing.ts');
    await runRoutingBench({ quick, durationS });
    return;
  }
  if (args.abuse === true) {
    const { runAbuseBench } = await import('./abuse.ts');
    await runAbuseBench({ quick, durationS: args.duration ? Number(args.duration) : undefined, only: args.only?.split(',') });
    return;
  }
  if (args.ingest === true) {
    const { runIngestBench } = await import('./ingest.ts');
    await runIngestBench({ quick, write: !args['no-write'], ...(args.events ? { events: Number(args.events) } : {}), ...(args.duration ? { lagDurationS: Number(args.duration) } : {}) });
    return;
  }
  const startedAt = performance.now();
  const host = machine();
  const loadAtStart = loadavg()[0] ?? 0;
  const pin = detectPinning(availableParallelism());
  say(pin.note);
  pinSelf(pin.load);
  loadCpus = pin.load;
  const mock = await startMockUpstream(pin.load);
  say(`mock upstream at ${mock.ready}`);
  const results: TargetResult[] = [];
  let pipeline: PipelineResult | null = null;
  let paired: PairedShare | undefined;
  try {
    for (const key of selected) {
      let run: Running | undefined;
      try {
        say(`starting ${key}`);
        run = await start(key, mock.ready, pin.target);
        const m = await measure(key, run, direct(mock.ready).target);
        results.push(m.result);
        if (key === 'gatelog') pipeline = await gatelogPipeline(run as GatelogRunning, m, results.find((r) => r.key === 'passthrough')?.rps?.perSecond ?? null);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        say(`${key} failed: ${msg}`);
        results.push({ key, name: run?.target.name ?? key, error: msg });
      } finally {
        await run?.child?.stop('SIGTERM');
        if (run && 'dataDir' in run) rmSync((run as GatelogRunning).dataDir, { recursive: true, force: true });
      }
    }
    if (!quick && selected.includes('passthrough') && selected.includes('gatelog') && selected.includes('proxy')) {
      try {
        paired = await pairedShare(mock.ready, pin.target);
      } catch (err) {
        say(`paired req/s failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    await mock.stop('SIGKILL');
    await kafka?.stop('SIGTERM');
    killAll();
  }
  const info: RunInfo = { date: new Date().toISOString(), machine: host, pinning: pin.note, load: [loadAtStart, loadavg()[0] ?? 0], settings, results, pipeline, ...(paired ? { paired } : {}) };
  process.stdout.write(`\n${info.date} · ${host} · ${pin.note} · load ${info.load.map((l) => l.toFixed(2)).join(' → ')}\n\n${table(info)}\n\n${verdicts(info).join('\n')}\n${info.results.map(cpuSplit).filter(Boolean).join('\n')}\n\n`);
  const md = render(info);
  if (!args['no-write'] && !quick) {
    const file = join(ROOT, 'BENCHMARKS.md');
    // Hand-written analysis below this heading survives re-runs; the numbers above are regenerated.
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    // So is the Ingest section, which only `--ingest` regenerates.
    const at = old.indexOf(NOTES_HEADING);
    const ingest = currentIngestSection(old);
    const kept = `${md}${ingest ? `\n${ingest}` : ''}`;
    writeFileSync(file, at === -1 ? kept : `${kept}\n${old.slice(at)}`);
    say('wrote BENCHMARKS.md');
  } else {
    process.stdout.write(md);
  }
  say(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    killAll();
    process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

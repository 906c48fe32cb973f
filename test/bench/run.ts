// `pnpm bench`: gatelog side by side with a direct call, a bare fastify+undici passthrough
// and Portkey's gateway, against a fast local mock upstream. Prints a markdown table and
// writes it to BENCHMARKS.md. Bounded in time; kills every child it started, even on failure.
//   node test/bench/run.ts [--quick] [--duration S] [--only direct,passthrough,gatelog,portkey] [--no-write]
//   node test/bench/run.ts --routing [--quick] [--duration S]   (routing layer overhead, routing.ts)
//   node test/bench/run.ts --ingest [--quick] [--events N] [--duration S]   (bus → ClickHouse, ingest.ts)
//   node test/bench/run.ts --abuse [--quick] [--duration S] [--only attack,…]   (noisy neighbours, abuse.ts)
// BENCH_GATELOG_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds Node flags to gatelog
// (BENCH_PASSTHROUGH_NODE_FLAGS to the passthrough).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { detectPinning, killAll, pinSelf } from './children.ts';
import { measureFixedRate, measureLatency, measurePairedLatency, measureThroughput, probe, type LoadTarget } from './load.ts';
import { EMPTY, countRows, snapshot, waitForDrain, type PipelineSnapshot } from './pipeline.ts';
import { TARGET_RPS_SHARE, cpuSplit, machine, render, table, verdicts, type FixedRatePhase, type PairedShare, type PipelineResult, type RunInfo, type TargetResult } from './report.ts';
import { cpuDelta, threadCpu } from './threads.ts';
import { currentIngestSection } from './ingest-report.ts';
import { ROOT, direct, startMockUpstream, gatelog, passthrough, portkey, type GatelogRunning, type Running } from './targets.ts';

const KEYS = ['direct', 'passthrough', 'gatelog', 'portkey'] as const;
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
const settings = { latencyN: quick ? 300 : 3000, concurrency: 50, durationS };
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

async function start(key: Key, mockUrl: string, cpus: string | null): Promise<Running> {
  switch (key) {
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
  say(`${t.name}: latency (${settings.latencyN} sequential calls)`);
  if (key === 'direct') {
    result.latency = await measureLatency(t, settings.latencyN, quick ? 100 : 500);
  } else {
    const paired = await measurePairedLatency(t, ref, settings.latencyN, quick ? 100 : 500);
    result.latency = paired.target;
    result.latencyRef = paired.reference;
  }
  calls += result.latency.ok + result.latency.warmupOk;
  say(`${t.name}: req/s at c=${settings.concurrency} for ${durationS} s`);
  calls += (await measureThroughput(t, { concurrency: settings.concurrency, durationMs: warmMs, stream: false })).ok;
  const pid = run.child?.proc.pid;
  const cpuBefore = pid === undefined ? null : threadCpu(pid);
  result.rps = await measureThroughput(t, { concurrency: settings.concurrency, durationMs: durationS * 1000, stream: false });
  if (pid !== undefined && cpuBefore) result.rpsCpu = cpuDelta(cpuBefore, threadCpu(pid));
  calls += result.rps.ok;
  const afterRps = key === 'gatelog' ? await snapshot(t.origin) : null;
  if (sse) {
    say(`${t.name}: SSE streams/s at c=${settings.concurrency} for ${durationS} s`);
    calls += (await measureThroughput(t, { concurrency: settings.concurrency, durationMs: warmMs / 2, stream: true })).ok;
    result.sse = await measureThroughput(t, { concurrency: settings.concurrency, durationMs: durationS * 1000, stream: true });
    calls += result.sse.ok;
  }
  return { result, calls, afterRps };
}

const PAIRED_ROUNDS = 3;

/**
 * The req/s share measured as a ratio within each round: the passthrough and gatelog both
 * running on the target core, req/s in alternating blocks (passthrough, then gatelog), gatelog's
 * event backlog drained before each passthrough block so its ingest never runs during one. A
 * passthrough whose req/s moves by a third between sequential runs then moves both sides of a
 * round alike; the verdict takes the median round.
 */
async function pairedShare(mockUrl: string, cpus: string | null): Promise<PairedShare> {
  const blockS = Math.max(2, Math.round(durationS / 2));
  say(`paired req/s: passthrough and gatelog in alternating ${blockS} s blocks, ${PAIRED_ROUNDS} rounds`);
  const pt = await passthrough(mockUrl, cpus);
  let gl: GatelogRunning | undefined;
  try {
    gl = await gatelog(mockUrl, cpus);
    const opts = { concurrency: settings.concurrency, durationMs: blockS * 1000, stream: false };
    await measureThroughput(pt.target, { ...opts, durationMs: warmMs });
    let calls = (await measureThroughput(gl.target, { ...opts, durationMs: warmMs })).ok;
    const rounds: PairedShare['rounds'] = [];
    for (let i = 0; i < PAIRED_ROUNDS; i++) {
      await waitForDrain(gl.target.origin, calls, DRAIN_WAIT_S * 1000);
      const a = await measureThroughput(pt.target, opts);
      const b = await measureThroughput(gl.target, opts);
      calls += b.ok;
      if (a.errors > 0 || b.errors > 0) throw new Error(`paired req/s: ${a.errors} passthrough / ${b.errors} gatelog errors (${a.firstError ?? b.firstError ?? ''})`);
      rounds.push({ passthrough: a.perSecond, gatelog: b.perSecond });
      say(`paired round ${i + 1}: passthrough ${Math.round(a.perSecond)}, gatelog ${Math.round(b.perSecond)} req/s (${Math.round((100 * b.perSecond) / a.perSecond)}%)`);
    }
    const shares = rounds.map((r) => r.gatelog / r.passthrough).sort((x, y) => x - y);
    return { blockS, rounds, median: shares[Math.floor(shares.length / 2)]! };
  } finally {
    await pt.child?.stop('SIGTERM');
    await gl?.child?.stop('SIGTERM');
    if (gl) rmSync(gl.dataDir, { recursive: true, force: true });
  }
}

/** Open loop at the target share of the passthrough's req/s: does recording keep up at that rate? */
async function fixedRatePhase(t: LoadTarget, rate: number): Promise<{ phase: FixedRatePhase; calls: number }> {
  say(`gatelog: open loop at ${Math.round(rate)} calls/s for ${durationS} s`);
  const lagRows: number[] = [];
  const r = await measureFixedRate(t, {
    rate,
    durationMs: durationS * 1000,
    maxInFlight: 256,
    tick: async () => {
      const s = await snapshot(t.origin);
      if (s.published !== null && s.ingestedRows !== null) lagRows.push(Math.max(0, s.published - s.ingestedRows));
    },
  });
  const end = lagRows.at(-1) ?? Infinity;
  // Bounded: what one ingest interval (1 s) plus the insert in flight hold, i.e. about two seconds of calls.
  const keptUp = r.skipped === 0 && r.errors === 0 && end <= 2 * rate;
  return { phase: { rate, perSecond: r.perSecond, skipped: r.skipped, errors: r.errors, lagRows, keptUp }, calls: r.ok };
}

async function gatelogPipeline(run: GatelogRunning, m: Measured, floorRps: number | null): Promise<PipelineResult> {
  say(`gatelog: waiting ≤ ${DRAIN_WAIT_S} s for the event pipeline to drain (${m.calls} calls)`);
  let calls = m.calls;
  const drain = await waitForDrain(run.target.origin, calls, DRAIN_WAIT_S * 1000);
  let fixedRate: FixedRatePhase | undefined;
  if (floorRps !== null && !quick) {
    const f = await fixedRatePhase(run.target, TARGET_RPS_SHARE * floorRps);
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
    if (!quick && selected.includes('passthrough') && selected.includes('gatelog')) {
      try {
        paired = await pairedShare(mock.ready, pin.target);
      } catch (err) {
        say(`paired req/s failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    await mock.stop('SIGKILL');
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

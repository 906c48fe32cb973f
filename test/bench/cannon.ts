// Throughput runs of `pnpm bench` with autocannon in a child process of its own
// (cannon-child.ts), pinned with the mock upstream to the load core: the bench process never
// competes with it (the one-connection latency samples have a child of their own too,
// latency-child.ts), and its CPU is reported so
// a saturated load generator is seen. `ceilingCheck` compares a target's req/s with what the
// load generator + mock did on their own in the same run (the direct row).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnChild } from './children.ts';
import type { BlockTiming, LatencyResult, LoadTarget, ThroughputResult } from './load.ts';
import type { LatencySettings, WireLatency, WireTarget } from './latency-child.ts';
import { ROOT } from './targets.ts';

export interface CannonResult extends ThroughputResult {
  /** The load generator's own CPU seconds during the measured run, and as a share of one core. */
  loadCpuS: number;
  loadCpuShare: number;
  /** autocannon's latency percentiles under load (ms). */
  p50Ms: number;
  p99Ms: number;
}

export interface CannonOptions {
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  stream: boolean;
  /** taskset CPU list for the load generator, or null. */
  cpus: string | null;
}

/**
 * A child's settings, as a file it reads (argv[2] is its path): a long request body (a long
 * conversation, BENCH_CONTEXT_BYTES) is more than one command-line argument may hold.
 */
function settingsFile(dir: string, settings: unknown): string {
  const path = join(dir, 'settings.json');
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

/** One closed-loop run with autocannon in its own process; resolves when the child has reported. */
export async function runCannon(t: LoadTarget, o: CannonOptions): Promise<CannonResult> {
  const settings = {
    url: `${t.origin}${t.path}`,
    headers: t.headers,
    body: t.body(o.stream).toString('base64'),
    connections: o.concurrency,
    durationS: Math.max(1, Math.round(o.durationMs / 1000)),
    warmupS: Math.round((o.warmupMs ?? 0) / 1000),
  };
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-bench-cannon-'));
  const child = await spawnChild({
    name: 'autocannon',
    cmd: process.execPath,
    args: ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'bench', 'cannon-child.ts'), settingsFile(dir, settings)],
    cpus: o.cpus,
    readyPattern: /"cannon":(\{[^}]+\})/,
    timeoutMs: (settings.durationS + settings.warmupS) * 1000 + 30_000,
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
  await child.stop('SIGTERM');
  const r = JSON.parse(child.ready) as { ok: number; errors: number; non2xx: number; timeouts: number; seconds: number; perSecond: number; p50Ms: number; p99Ms: number; cpuS: number };
  const firstError = r.errors > 0 ? `${r.non2xx} non-2xx, ${r.timeouts} timeouts, ${r.errors - r.non2xx - r.timeouts} socket errors` : null;
  return { ok: r.ok, errors: r.errors, firstError, perSecond: r.perSecond, seconds: r.seconds, loadCpuS: r.cpuS, loadCpuShare: r.cpuS / r.seconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms };
}

/** Within this share of the load generator's own ceiling, a target's req/s says more about the load core than the target. */
export const CEILING_MARGIN = 0.9;

export interface CeilingCheck {
  trusted: boolean;
  line: string;
}

/**
 * The passthrough (the ratio's denominator) against the ceiling measured in the same run: the
 * mock upstream called directly by the same load generator on the same core. A passthrough
 * within ~10% of it, or a load generator near a full core, means the load side capped it.
 */
export function ceilingCheck(kind: string, passthrough: CannonResult | undefined, ceiling: CannonResult | undefined): CeilingCheck {
  if (!passthrough || !ceiling) return { trusted: false, line: `- WARNING ${kind}: no ceiling measured in this run (direct or passthrough missing): the share is UNTRUSTED` };
  const share = passthrough.perSecond / ceiling.perSecond;
  const busy = passthrough.loadCpuShare;
  const what = `passthrough ${Math.round(passthrough.perSecond).toLocaleString('en-US')}/s = ${Math.round(share * 100)}% of the load generator's ceiling ${Math.round(ceiling.perSecond).toLocaleString('en-US')}/s (mock called directly); autocannon used ${Math.round(busy * 100)}% of a core during the passthrough run, ${Math.round(ceiling.loadCpuShare * 100)}% during the ceiling run`;
  if (share >= CEILING_MARGIN || busy >= 0.9) return { trusted: false, line: `- WARNING ${kind}: ${what} — the load side may be the bottleneck: the share is UNTRUSTED` };
  return { trusted: true, line: `- ${kind} ceiling check: ${what} — the passthrough is not capped by the load side` };
}

/** Two blocks in a row within this share of each other: the target has settled. */
export const STEADY_WITHIN = 0.05;

export interface WarmUp {
  /** Successful calls made while warming (they count as calls the target served). */
  ok: number;
  /** Each block's req/s (or streams/s), in order. */
  blocks: number[];
  steady: boolean;
}

/**
 * Closed-loop blocks until two in a row agree within STEADY_WITHIN (not before `minBlocks`, at
 * most `maxBlocks`). A new process needs several seconds under load before its rate settles
 * (V8's optimizing tiers, the heap growing to its working size, a worker thread's own start-up):
 * measured here, the distributed proxy served ~1.5× its steady CPU per call for its first ~6 s
 * at c=50, the passthrough for its first ~4 s. A fixed short warm-up charged that to whichever
 * target settles slowest; this waits for each.
 */
export async function warmUntilSteady(t: LoadTarget, o: Omit<CannonOptions, 'durationMs'> & { blockMs: number; minBlocks: number; maxBlocks: number }): Promise<WarmUp> {
  const blocks: number[] = [];
  let ok = 0;
  for (let i = 0; i < o.maxBlocks; i++) {
    const r = await runCannon(t, { ...o, durationMs: o.blockMs });
    ok += r.ok;
    blocks.push(r.perSecond);
    const prev = blocks.at(-2);
    // At least minBlocks: two early blocks can agree on a plateau the process then leaves
    // (measured: the proxy at 2,805 and 2,813 req/s, then 4,805 from its fourth block on).
    if (blocks.length >= o.minBlocks && prev !== undefined && r.perSecond > 0 && Math.abs(r.perSecond - prev) <= STEADY_WITHIN * Math.max(r.perSecond, prev)) return { ok, blocks, steady: true };
  }
  return { ok, blocks, steady: false };
}

/**
 * One-connection latency taken by latency-child.ts in a process of its own on the load CPUs:
 * one target alone, or several in interleaved blocks (measureInterleavedLatency), results in
 * the same order.
 */
export async function latencyInChild(targets: readonly LoadTarget[], n: number, warmup: number, cpus: string | null, timing?: BlockTiming): Promise<LatencyResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-bench-latency-'));
  const toWire = (x: LoadTarget): WireTarget => ({ name: x.name, origin: x.origin, path: x.path, headers: x.headers, body: x.body(false).toString('base64') });
  const settings: LatencySettings = { targets: targets.map(toWire), n, warmup, ...(timing ? { timing } : {}), out: join(dir, 'latency.json') };
  try {
    const child = await spawnChild({
      name: 'latency',
      cmd: process.execPath,
      args: ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'bench', 'latency-child.ts'), settingsFile(dir, settings)],
      cpus,
      readyPattern: /"latency":"written"/,
      // Bounded like every phase: a target that stopped answering fails the bench, not hangs it.
      timeoutMs: 300_000 * targets.length,
    });
    await child.stop('SIGTERM');
    const r = JSON.parse(readFileSync(settings.out, 'utf8')) as WireLatency[];
    return r.map((w) => ({ ...w, samples: Float64Array.from(w.samples) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

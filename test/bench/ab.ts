// Paired A/B of two gatelog proxy builds (or two sets of Node flags) on this noisy machine.
// Both proxies run at once, pinned to the target core, each publishing to the Kafka broker
// fixture; the mock upstream, the fixture and autocannon share the load core. Short closed-loop
// blocks alternate between A and B (the order flips every round), so a slow phase of the host
// hits both sides of a round; each side's CPU per call is read from /proc around its block.
// The answer is the median of the per-round B/A ratios, not of single runs — and one run's
// median moves by ±5% on its own on this host (the same checkout on both sides read JSON B/A
// 0.92–1.05 over six runs; BENCHMARKS.md, "Twenty-sixth round"). For a lever of a few percent,
// run it with the sides swapped and with --start BA as well, and take the geometric mean.
//   node test/bench/ab.ts [--a-root DIR] [--b-root DIR] [--a-flags="--x"] [--b-flags="--y"]
//                         [--a-config='{"bus":{"batch_ms":5}}'] [--b-config=…]
//                         [--a-env=NAME=value,…] [--b-env=…]
//                         [--rounds 10] [--seconds 3] [--warmup 6] [--mode json,sse] [--embedded] [--start AB|BA]
// --embedded compares two embedded gatelogs (`npm start`: proxy, ingest and chDB in one process)
// instead: each block's CPU is counted until that side has ingested every call of the block, so
// the inserts and merges its calls cause are in its CPU per call (--a-env does not apply).
// A checkout to compare against: `git worktree add /tmp/gatelog-base HEAD~1`, then
// `pnpm install --frozen-lockfile --offline` there (or, for changes under proxy/src only,
// symlinks to this checkout's node_modules folders). `--trace-gc-nvp` in a side's flags adds its
// mark-compacts per 1,000 calls and the bytes scavenges promote per call.
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { killAll, pinSelf, type Child } from './children.ts';
import { runCannon } from './cannon.ts';
import type { LoadTarget } from './load.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import { ROOT, gatelog, gatelogConfig, startMockUpstream } from './targets.ts';
import { snapshot, waitForDrain } from './pipeline.ts';
import { cpuDelta, threadCpu } from './threads.ts';

const { values: args } = parseArgs({
  options: {
    'a-root': { type: 'string', default: ROOT },
    'b-root': { type: 'string', default: ROOT },
    'a-flags': { type: 'string', default: '' },
    'b-flags': { type: 'string', default: '' },
    'a-config': { type: 'string' },
    'b-config': { type: 'string' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    rounds: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '6' },
    mode: { type: 'string', default: 'json,sse' },
    embedded: { type: 'boolean', default: false },
    /** Which side's process starts first (BA: B's), to tell a start-order effect from the code's. */
    start: { type: 'string', default: 'AB' },
  },
});

interface Side {
  name: 'A' | 'B';
  child: Child;
  target: LoadTarget;
  /** Mark-compacts printed by --trace-gc or --trace-gc-nvp so far (0 without either). */
  markCompacts: number;
  /** Bytes promoted to the old generation by scavenges, from --trace-gc-nvp (0 without it). */
  promoted: number;
}

const dataDirs: string[] = [];

async function startProxy(name: 'A' | 'B', mockUrl: string, broker: string): Promise<Side> {
  const key = name === 'A' ? 'a' : 'b';
  const env: Record<string, string> = {};
  for (const kv of args[`${key}-env`].split(',').filter(Boolean)) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  const running = await proxyService(mockUrl, broker, '0', {
    root: args[`${key}-root`],
    nodeFlags: args[`${key}-flags`].split(' ').filter(Boolean),
    configOverrides: args[`${key}-config`],
    env,
    topic: `bench.ab.${name}`,
    name: `gatelog proxy ${name}`,
  });
  dataDirs.push(running.dataDir);
  const child = running.child;
  if (child === null) throw new Error(`proxy ${name} did not start a process`);
  return watch({ name, child, target: running.target, markCompacts: 0, promoted: 0 });
}

async function startEmbedded(name: 'A' | 'B', mockUrl: string): Promise<Side> {
  const key = name === 'A' ? 'a' : 'b';
  const running = await gatelog(mockUrl, '0', gatelogConfig(mockUrl, args[`${key}-config`]), `gatelog ${name}`, {
    root: args[`${key}-root`],
    nodeFlags: args[`${key}-flags`].split(' ').filter(Boolean),
  });
  dataDirs.push(running.dataDir);
  if (running.child === null) throw new Error(`gatelog ${name} did not start a process`);
  return watch({ name, child: running.child, target: running.target, markCompacts: 0, promoted: 0 });
}

/** Counts the GC lines a side prints (--trace-gc, --trace-gc-nvp). */
function watch(side: Side): Side {
  const child = side.child;
  let partial = '';
  child.proc.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString('latin1')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('Mark-Compact') || line.includes('gc=mc')) side.markCompacts++;
      const p = / promoted=(\d+)/.exec(line);
      if (p && line.includes('gc=s ')) side.promoted += Number(p[1]);
    }
  });
  return side;
}

interface Block {
  perSecond: number;
  usPerCall: number;
  mainUs: number;
  gcHelpersUs: number;
  /** The largest other thread (name and µs per call): libuv's pool, a worker, … */
  other: [string, number];
  markCompactsPer1k: number;
  promotedPerCall: number;
}

async function block(s: Side, stream: boolean, seconds: number): Promise<Block> {
  const pid = s.child.proc.pid!;
  const before = threadCpu(pid);
  const mc = s.markCompacts;
  const promoted = s.promoted;
  const published = args.embedded ? ((await snapshot(s.target.origin)).published ?? 0) : 0;
  const r = await runCannon(s.target, { concurrency: 50, durationMs: seconds * 1000, stream, cpus: '1' });
  // Embedded: the block's calls are ingested (inserts, views, merges) before its CPU is read.
  if (args.embedded) await waitForDrain(s.target.origin, published + r.ok, 30_000);
  const d = new Map(cpuDelta(before, threadCpu(pid)));
  if (r.errors > 0) process.stdout.write(`  ${s.name}: ${r.errors} errors (${r.firstError})\n`);
  const per = (sec: number): number => (sec / Math.max(1, r.ok)) * 1e6;
  let total = 0;
  for (const v of d.values()) total += v;
  return {
    perSecond: r.perSecond,
    usPerCall: per(total),
    mainUs: per(d.get('main (JS event loop)') ?? 0),
    gcHelpersUs: per(d.get('V8Worker') ?? 0),
    other: [...d].filter(([k]) => k !== 'main (JS event loop)' && k !== 'V8Worker').map(([k, v]): [string, number] => [k, per(v)]).sort((x, y) => y[1] - x[1])[0] ?? ['-', 0],
    markCompactsPer1k: ((s.markCompacts - mc) / Math.max(1, r.ok)) * 1000,
    promotedPerCall: (s.promoted - promoted) / Math.max(1, r.ok),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const f0 = (x: number): string => Math.round(x).toLocaleString('en-US');

const proxies: Child[] = [];
try {
  pinSelf('1');
  const mock = await startMockUpstream('1');
  const kafka = args.embedded ? null : await startKafkaFixture('1');
  const start = (name: 'A' | 'B'): Promise<Side> => (kafka ? startProxy(name, mock.ready, kafka.ready) : startEmbedded(name, mock.ready));
  if (args.start !== 'AB' && args.start !== 'BA') throw new Error('--start is AB or BA');
  const first = await start(args.start === 'AB' ? 'A' : 'B');
  proxies.push(first.child);
  const second = await start(args.start === 'AB' ? 'B' : 'A');
  proxies.push(second.child);
  const [a, b] = args.start === 'AB' ? [first, second] : [second, first];
  const rounds = Number(args.rounds);
  const seconds = Number(args.seconds);
  process.stdout.write(`A: ${args['a-root']} ${args['a-flags']} ${args['a-config'] ?? ''} ${args['a-env']}\nB: ${args['b-root']} ${args['b-flags']} ${args['b-config'] ?? ''} ${args['b-env']}\n`);
  for (const mode of args.mode.split(',')) {
    const stream = mode === 'sse';
    for (const s of [a, b]) await block(s, stream, Number(args.warmup));
    const got: Record<'A' | 'B', Block[]> = { A: [], B: [] };
    process.stdout.write(`\n| ${mode} round | A req/s | B req/s | B/A req/s | A µs/call | B µs/call | B/A CPU/call | A main · GC helpers µs | B main · GC helpers µs | mark-compacts /1k calls A · B | promoted B/call A · B | largest other thread µs A · B |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n`);
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? [a, b] : [b, a]) got[s.name].push(await block(s, stream, seconds));
      const x = got.A[r]!;
      const y = got.B[r]!;
      process.stdout.write(`| ${r + 1} | ${f0(x.perSecond)} | ${f0(y.perSecond)} | ${(y.perSecond / x.perSecond).toFixed(3)} | ${f0(x.usPerCall)} | ${f0(y.usPerCall)} | ${(y.usPerCall / x.usPerCall).toFixed(3)} | ${f0(x.mainUs)} · ${f0(x.gcHelpersUs)} | ${f0(y.mainUs)} · ${f0(y.gcHelpersUs)} | ${x.markCompactsPer1k.toFixed(2)} · ${y.markCompactsPer1k.toFixed(2)} | ${f0(x.promotedPerCall)} · ${f0(y.promotedPerCall)} | ${x.other[0]} ${f0(x.other[1])} · ${y.other[0]} ${f0(y.other[1])} |\n`);
    }
    type Numeric = Exclude<keyof Block, 'other'>;
    const ratio = (k: Numeric): number => median(got.A.map((x, i) => got.B[i]![k] / x[k]));
    const med = (s: 'A' | 'B', k: Numeric): number => median(got[s].map((x) => x[k]));
    process.stdout.write(`| **median** | ${f0(med('A', 'perSecond'))} | ${f0(med('B', 'perSecond'))} | **${ratio('perSecond').toFixed(3)}** | ${f0(med('A', 'usPerCall'))} | ${f0(med('B', 'usPerCall'))} | **${ratio('usPerCall').toFixed(3)}** | ${f0(med('A', 'mainUs'))} · ${f0(med('A', 'gcHelpersUs'))} | ${f0(med('B', 'mainUs'))} · ${f0(med('B', 'gcHelpersUs'))} | ${med('A', 'markCompactsPer1k').toFixed(2)} · ${med('B', 'markCompactsPer1k').toFixed(2)} | ${f0(med('A', 'promotedPerCall'))} · ${f0(med('B', 'promotedPerCall'))} | |\n`);
  }
} finally {
  // A graceful stop first, so a side started with --cpu-prof writes its profile.
  await Promise.allSettled(proxies.map((p) => p.stop('SIGTERM')));
  killAll();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

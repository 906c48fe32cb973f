// One-connection latency of the distributed proxy against the mock, to look at what a single
// call waits for (not part of `pnpm bench`): node test/bench/c1-probe.ts [n]
// With `--b-root DIR`, `--b-flags "--x --y"`, `--b-config JSON` or `--b-env NAME=value,…` it
// compares this checkout's proxy (A, `--a-config` for its settings) with B, the way `pnpm bench`
// takes its one-connection verdicts: every target warmed at c=50 first, then per round direct,
// passthrough, A and B calls in interleaved blocks (order reversed every other block) from a
// process of its own on the load core; added = target − direct per percentile, and the medians
// over the rounds. One-connection p99s move by ~1 ms between identical builds on this host:
// compare medians of at least 6 rounds, e.g.
//   node test/bench/c1-probe.ts 2000 --b-config '{"bus":{"batch_ms":50}}' --rounds 6
import { parseArgs } from 'node:util';
import { latencyInChild, warmUntilSteady } from './cannon.ts';
import { measureLatency, type LoadTarget } from './load.ts';
import { ROOT, direct, passthrough, startMockUpstream, timingFor } from './targets.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import { killAll } from './children.ts';
import { cpuDelta, threadCpu } from './threads.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'b-root': { type: 'string' },
    'b-flags': { type: 'string' },
    'a-config': { type: 'string' },
    'b-config': { type: 'string' },
    'b-env': { type: 'string' },
    rounds: { type: 'string', default: '6' },
  },
});
const n = Number(positionals[0] ?? 3000);
const bFlags = args['b-flags']?.split(' ').filter(Boolean);
const bEnv: Record<string, string> = {};
for (const kv of (args['b-env'] ?? '').split(',').filter(Boolean)) bEnv[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
const comparing = args['b-root'] !== undefined || bFlags !== undefined || args['b-config'] !== undefined || args['b-env'] !== undefined;
const mock = await startMockUpstream('1');
const kafka = await startKafkaFixture('1');
const mockUrl = mock.ready;
const g = await proxyService(mockUrl, kafka.ready, '0', args['a-config'] ? { configOverrides: args['a-config'] } : {});
const pt = await passthrough(mockUrl, '0');
const other = comparing
  ? await proxyService(mockUrl, kafka.ready, '0', {
    root: args['b-root'] ?? ROOT, topic: 'bench.c1.b', name: 'gatelog proxy B', env: bEnv,
    ...(bFlags ? { nodeFlags: bFlags } : {}), ...(args['b-config'] ? { configOverrides: args['b-config'] } : {}),
  })
  : undefined;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  if (other) {
    const sides: [string, LoadTarget][] = [['passthrough', pt.target], ['A', g.target], ['B', other.target]];
    for (const [, t] of sides) await warmUntilSteady(t, { concurrency: 50, stream: false, cpus: '1', blockMs: 2000, minBlocks: 4, maxBlocks: 10 });
    const added = new Map<string, { p50: number[]; p99: number[] }>(sides.map(([name]) => [name, { p50: [], p99: [] }]));
    const rows: string[] = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      const [d, ...rest] = await latencyInChild([direct(mockUrl).target, ...sides.map(([, t]) => t)], n, 300, '1', timingFor(g, other));
      const cells = sides.map(([name], i) => {
        const x = rest[i]!;
        const a = added.get(name)!;
        a.p50.push(x.p50Ms - d!.p50Ms);
        a.p99.push(x.p99Ms - d!.p99Ms);
        return `${a.p50.at(-1)!.toFixed(3)} / ${a.p99.at(-1)!.toFixed(3)}`;
      });
      rows.push(`| ${round + 1} | ${d!.p50Ms.toFixed(3)} / ${d!.p99Ms.toFixed(3)} | ${cells.join(' | ')} |`);
    }
    const medians = sides.map(([name]) => `**${median(added.get(name)!.p50).toFixed(3)} / ${median(added.get(name)!.p99).toFixed(3)}**`);
    console.log(`| round | direct p50 / p99 ms | passthrough added p50 / p99 | A added | B added |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}\n| median | | ${medians.join(' | ')} |`);
  }
  for (let round = 0; round < (other ? 0 : 2); round++) {
    // p50 / p99 in ms; added = over the direct call measured just before.
    const d = await measureLatency(direct(mockUrl).target, n, 300);
    const b = await measureLatency(pt.target, n, 300);
    const before = threadCpu(g.child?.proc.pid ?? 0);
    const p = await measureLatency(g.target, n, 300);
    // CPU per call of the proxy's threads (warm-up calls included): at one connection every
    // µs of it is on the call's path, unless it runs while the call waits on the upstream.
    const cpu = cpuDelta(before, threadCpu(g.child?.proc.pid ?? 0)).map(([t, sec]) => `${t} ${Math.round((sec * 1e6) / (n + 300))}`);
    const added = (x: { p50Ms: number }): number => +(x.p50Ms - d.p50Ms).toFixed(3);
    console.log(JSON.stringify({ direct: d.p50Ms, passthrough: [b.p50Ms, b.p99Ms], proxy: [p.p50Ms, p.p99Ms], addedPassthrough: added(b), addedProxy: added(p), proxyCpuUsPerCall: cpu }));
  }
  // The proxy's own view: time in gatelog per call (arrival → dispatch, upstream end → end).
  const m = await (await fetch(`${g.target.origin}/metrics`)).text();
  const pick = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(m)?.[1] ?? NaN);
  const n2 = pick('gatelog_proxy_overhead_seconds_count');
  const labelled = (name: string): number => Number(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(m)?.[1] ?? NaN);
  console.log(JSON.stringify({
    overheadMeanMs: +((pick('gatelog_proxy_overhead_seconds_sum') / n2) * 1000).toFixed(3),
    requestMeanMs: +((labelled('gatelog_request_duration_seconds_sum') / labelled('gatelog_request_duration_seconds_count')) * 1000).toFixed(3),
  }));
} finally {
  // SIGTERM first: a --cpu-prof flag (BENCH_GATELOG_NODE_FLAGS) writes its profile on exit.
  await g.child?.stop('SIGTERM');
  await other?.child?.stop('SIGTERM');
  await pt.child?.stop();
  killAll();
}
process.exit(0);

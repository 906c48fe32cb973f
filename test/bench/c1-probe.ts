// One-connection latency of the distributed proxy against the mock, to look at what a single
// call waits for (not part of `pnpm bench`): node test/bench/c1-probe.ts [n]
// With `--b-root DIR` it compares this checkout's proxy (A) with the one in DIR (B), measured
// in alternating blocks: node test/bench/c1-probe.ts 3000 --b-root /tmp/gatelog-other
// (`--b-flags "--x --y"` gives B Node flags of its own; with only flags, B is this checkout).
import { measureLatency } from './load.ts';
import { ROOT, direct, passthrough, startMockUpstream } from './targets.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import { killAll } from './children.ts';
import { cpuDelta, threadCpu } from './threads.ts';

const n = Number(process.argv[2] ?? 3000);
const argOf = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const bFlags = argOf('--b-flags')?.split(' ').filter(Boolean);
const bRoot = argOf('--b-root') ?? (bFlags ? ROOT : undefined);
const mock = await startMockUpstream('1');
const kafka = await startKafkaFixture('1');
const mockUrl = mock.ready;
const g = await proxyService(mockUrl, kafka.ready, '0');
const pt = await passthrough(mockUrl, '0');
const other = bRoot ? await proxyService(mockUrl, kafka.ready, '0', { root: bRoot, topic: 'bench.c1.b', name: 'gatelog proxy B', ...(bFlags ? { nodeFlags: bFlags } : {}) }) : undefined;
try {
  if (other) {
    const rows: string[] = [];
    for (let round = 0; round < 6; round++) {
      const d = await measureLatency(direct(mockUrl).target, n, 300);
      const order = round % 2 === 0 ? [['A', g], ['B', other]] as const : [['B', other], ['A', g]] as const;
      for (const [name, t] of order) {
        const x = await measureLatency(t.target, n, 300);
        rows.push(`| ${round + 1} | ${name} | ${(x.p50Ms - d.p50Ms).toFixed(3)} | ${(x.p99Ms - d.p99Ms).toFixed(3)} | ${x.p50Ms.toFixed(3)} / ${x.p99Ms.toFixed(3)} |`);
      }
    }
    console.log(`| round | proxy | added p50 ms | added p99 ms | p50 / p99 ms |\n|---|---|---:|---:|---:|\n${rows.join('\n')}`);
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

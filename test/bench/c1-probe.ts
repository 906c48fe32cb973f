// One-connection latency of the distributed proxy against the mock, to look at what a single
// call waits for (not part of `pnpm bench`): node test/bench/c1-probe.ts [n]
import { measureLatency } from './load.ts';
import { direct, startMockUpstream } from './targets.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import { killAll } from './children.ts';

const n = Number(process.argv[2] ?? 3000);
const mock = await startMockUpstream('1');
const kafka = await startKafkaFixture('1');
const mockUrl = mock.ready;
const g = await proxyService(mockUrl, kafka.ready, '0');
try {
  for (let round = 0; round < 2; round++) {
    const d = await measureLatency(direct(mockUrl).target, n, 300);
    const p = await measureLatency(g.target, n, 300);
    console.log(JSON.stringify({ direct: d.p50Ms, proxy: p.p50Ms, proxyP99: p.p99Ms, added: +(p.p50Ms - d.p50Ms).toFixed(3) }));
  }
  // The proxy's own view: time in gatelog per call (arrival → dispatch, upstream end → end).
  const m = await (await fetch(`${g.target.origin}/metrics`)).text();
  const pick = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(m)?.[1] ?? NaN);
  const n2 = pick('gatelog_proxy_overhead_seconds_count');
  const d2 = pick('gatelog_request_duration_seconds_count');
  console.log(JSON.stringify({
    overheadMeanMs: +((pick('gatelog_proxy_overhead_seconds_sum') / n2) * 1000).toFixed(3),
    requestMeanMs: +((Number(/^gatelog_request_duration_seconds_sum\{[^}]*\} ([0-9.e+-]+)$/m.exec(m)?.[1]) / d2) * 1000).toFixed(3),
  }));
} finally {
  // SIGTERM first: a --cpu-prof flag (BENCH_GATELOG_NODE_FLAGS) writes its profile on exit.
  await g.child?.stop('SIGTERM');
  killAll();
}
process.exit(0);

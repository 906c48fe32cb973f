import { measureLatency } from './load.ts';
import { warmUntilSteady } from './cannon.ts';
import { passthrough, startMockUpstream } from './targets.ts';
import { proxyService, startKafkaFixture } from './proxy-target.ts';
import { killAll, pinSelf } from './children.ts';
import { cpuDelta, threadCpu } from './threads.ts';
pinSelf('1');
const mock = await startMockUpstream('1');
const kafka = await startKafkaFixture('1');
const flags = (process.argv[2] ?? '').split(' ').filter(Boolean);
const g = await proxyService(mock.ready, kafka.ready, '0', { nodeFlags: flags });
const pt = await passthrough(mock.ready, '0');
try {
  for (const t of [pt, g]) await warmUntilSteady(t.target, { concurrency: 50, stream: false, cpus: '1', blockMs: 2000, minBlocks: 4, maxBlocks: 10 });
  for (let r = 0; r < 2; r++) for (const [name, t] of [['pt', pt], ['proxy', g]] as const) {
    const pid = t.child!.proc.pid!;
    const before = threadCpu(pid);
    const n = 4000;
    const x = await measureLatency(t.target, n, 0);
    const cpu = cpuDelta(before, threadCpu(pid)).map(([th, sec]) => `${th} ${Math.round((sec * 1e6) / n)}`);
    console.log(name, 'p50', x.p50Ms.toFixed(3), 'p99', x.p99Ms.toFixed(3), cpu.join(', '));
  }
} finally { await g.child?.stop('SIGTERM'); await pt.child?.stop('SIGTERM'); killAll(); }
process.exit(0);

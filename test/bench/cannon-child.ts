// Child process of `pnpm bench`: one autocannon run (closed loop, N connections, fixed
// duration) against one target, so the load generator has a process (and, pinned, a core
// slot) of its own and its CPU can be told apart from the bench's. Reads its settings as JSON
// from the file argv[2] names; prints one JSON line {"cannon":{…}} with the result and its own CPU time.
//   node test/bench/cannon-child.ts settings.json   ({"url":…,"headers":{…},"body":"<base64>","connections":50,"durationS":10,"warmupS":2})
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

interface Settings {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
  warmupS: number;
}

const s = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Settings;
const body = Buffer.from(s.body, 'base64');

function run(durationS: number): Promise<autocannon.Result> {
  return autocannon({
    url: s.url,
    method: 'POST',
    headers: s.headers,
    body,
    connections: s.connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
  });
}

if (s.warmupS > 0) await run(s.warmupS);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await run(s.durationS);
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
const ok = r['2xx'];
process.stdout.write(`${JSON.stringify({
  cannon: {
    ok,
    errors: r.errors + r.timeouts + r.non2xx,
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    seconds,
    perSecond: ok / seconds,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    cpuS: (cpu.user + cpu.system) / 1e6,
  },
})}\n`);
process.exit(0);

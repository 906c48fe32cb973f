// `pnpm bench --routing`: what the routing layer costs. Two gatelog processes side by side on
// the same mock upstream: one alias with a single deployment, and one with three deployments
// (weighted) of which one is dead and held in cooldown for the whole run — so every call pays
// for the strategy pick, the cooldown check and the attempt bookkeeping. Latency is measured
// in alternating blocks (the single deployment is the reference); then req/s at c=50.
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { detectPinning, freePort, killAll, pinSelf } from './children.ts';
import { measurePairedLatency, measureThroughput, probe } from './load.ts';
import { TARGET_ADDED_P50_MS } from './report.ts';
import { GATELOG_ALIAS, gatelog, startMockUpstream, type GatelogRunning } from './targets.ts';

const say = (msg: string): void => {
  process.stderr.write(`[bench:routing] ${msg}\n`);
};

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');

function configs(mockUrl: string, deadUrl: string): { single: object; routed: object } {
  const upstream = (url: string): object => ({ kind: 'openai', base_url: `${url}/v1`, api_key: 'sk-bench-upstream-not-a-real-key' });
  return {
    single: {
      server: { port: 0 },
      providers: { upstream: upstream(mockUrl) },
      models: [{ name: GATELOG_ALIAS, deployments: [{ provider: 'upstream', model: 'gpt-4o-mini' }] }],
    },
    routed: {
      server: { port: 0 },
      providers: { up1: upstream(mockUrl), up2: upstream(mockUrl), dead: upstream(deadUrl) },
      models: [
        {
          name: GATELOG_ALIAS,
          deployments: [
            { provider: 'up1', model: 'gpt-4o-mini', weight: 2 },
            { provider: 'up2', model: 'gpt-4o-mini', weight: 1 },
            { provider: 'dead', model: 'gpt-4o-mini', weight: 1 },
          ],
        },
      ],
      // One failure cools the dead deployment for longer than the run.
      router: { cooldown: { failures: 1, window_ms: 60_000, cooldown_ms: 3_600_000 } },
    },
  };
}

async function deadCooling(origin: string): Promise<boolean> {
  const res = await fetch(`${origin}/admin/deployments`);
  const body = (await res.json()) as { data: { provider: string; state: string }[] };
  return body.data.some((d) => d.provider === 'dead' && d.state === 'cooling');
}

export async function runRoutingBench(opts: { quick: boolean; durationS: number }): Promise<void> {
  const pin = detectPinning(availableParallelism());
  say(pin.note);
  pinSelf(pin.load);
  const mock = await startMockUpstream(pin.load);
  // A port nobody listens on: connections are refused at once.
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  const cfg = configs(mock.ready, deadUrl);
  const runs: GatelogRunning[] = [];
  try {
    const single = await gatelog(mock.ready, pin.target, cfg.single, 'gatelog, 1 deployment');
    runs.push(single);
    const routed = await gatelog(mock.ready, pin.target, cfg.routed, 'gatelog, 3 deployments, 1 cooling');
    runs.push(routed);
    for (let i = 0; i < 100 && !(await deadCooling(routed.target.origin)); i++) {
      const p = await probe(routed.target, false);
      if (p.ok !== 1) throw new Error(`routed probe failed: ${p.firstError ?? 'unknown'}`);
    }
    if (!(await deadCooling(routed.target.origin))) throw new Error('the dead deployment never entered cooldown');
    const n = opts.quick ? 300 : 3000;
    say(`latency: ${n} sequential calls each, alternating blocks`);
    const lat = await measurePairedLatency(routed.target, single.target, n, opts.quick ? 100 : 500);
    // Throughput in alternating halves too (A B A B), so drift on a shared machine hits both.
    const rps = [0, 0];
    for (let round = 0; round < 2; round++) {
      for (const [i, r] of [single, routed].entries()) {
        say(`${r.target.name}: req/s at c=50 for ${opts.durationS / 2} s (round ${round + 1}/2)`);
        const t = await measureThroughput(r.target, { concurrency: 50, durationMs: (opts.durationS * 1000) / 2, stream: false });
        if (t.errors > 0) throw new Error(`${r.target.name}: ${t.errors} errors (${t.firstError ?? ''})`);
        rps[i] = rps[i]! + t.perSecond / 2;
      }
    }
    const stillCooling = await deadCooling(routed.target.origin);
    const added = lat.target.p50Ms - lat.reference.p50Ms;
    const rows = [
      `| ${single.target.name} | ${fmt(lat.reference.p50Ms)} | ${fmt(lat.reference.p99Ms)} | — | ${rps[0]!.toFixed(0)} |`,
      `| ${routed.target.name} | ${fmt(lat.target.p50Ms)} | ${fmt(lat.target.p99Ms)} | ${fmt(added)} | ${rps[1]!.toFixed(0)} |`,
    ];
    process.stdout.write(
      [
        '',
        `Routing overhead · ${new Date().toISOString()} · ${pin.note}`,
        '',
        '| target | p50 ms (c=1) | p99 ms (c=1) | routing p50 added, ms | req/s (c=50) |',
        '|---|---:|---:|---:|---:|',
        ...rows,
        '',
        `routing layer p50 cost: ${fmt(added)} ms (${Math.abs(added) <= TARGET_ADDED_P50_MS ? 'within' : 'OVER'} the ${TARGET_ADDED_P50_MS} ms added-latency budget); ` +
          `req/s ${((rps[1]! / rps[0]!) * 100).toFixed(0)}% of the single deployment; dead deployment cooling throughout: ${stillCooling ? 'yes' : 'NO'}`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const r of runs) {
      await r.child?.stop('SIGTERM');
      rmSync(r.dataDir, { recursive: true, force: true });
    }
    await mock.stop('SIGKILL');
    killAll();
  }
}

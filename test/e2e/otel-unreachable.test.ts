// A collector that never answers must not slow calls down: the same calls, interleaved,
// through a gatelog without OpenTelemetry and one exporting to a black hole (a TCP server
// that accepts and never replies), compared by median latency; spans that do not fit the
// bounded queue are dropped and counted in /metrics.
import { createServer, type Server, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';

const MASTER = 'gl-master-otel-unreachable-0123';
const CALLS = 60;

let fake: FakeOpenAi;
let hole: Server;
const sockets: Socket[] = [];
let plain: GatelogProcess;
let exporting: GatelogProcess;

beforeAll(async () => {
  fake = await startFakeOpenAi();
  hole = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
  const port = (hole.address() as { port: number }).port;
  const base = {
    providers: { fake: { kind: 'openai', base_url: fake.baseUrl, api_key: 'sk-upstream' } },
    models: [{ name: 'fast', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] }],
    ingest: { batch_rows: 1000, batch_ms: 200 },
  };
  [plain, exporting] = await startTogether(
    [startGatelog({ config: base, env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 90_000 }), (g) => g.stop()],
    [startGatelog({
      config: { ...base, otel: { endpoint: `http://127.0.0.1:${port}/v1/traces`, max_queue_size: 16, max_batch_size: 8, batch_delay_ms: 50, timeout_ms: 30_000 } },
      env: { GATELOG_MASTER_KEY: MASTER },
      timeoutMs: 90_000,
    }), (g) => g.stop()],
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), exporting?.stop()]);
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => hole?.close(() => resolve()));
  await fake?.close();
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function timed(client: OpenAI, traceparent: string): Promise<number> {
  const t0 = performance.now();
  const r = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'ping' }] }, { headers: { traceparent } });
  expect(r.choices).toHaveLength(1);
  return performance.now() - t0;
}

describe('OpenTelemetry export to an unreachable collector', () => {
  it('does not slow calls (median latency with and without export), and drops what does not fit, counted', { timeout: 120_000 }, async () => {
    const a = new OpenAI({ baseURL: `${plain.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const b = new OpenAI({ baseURL: `${exporting.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const tp = (): string => `00-${crypto.randomUUID().replaceAll('-', '')}-${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}-01`;
    // Warm both (connections, JIT, tokenizer).
    for (let i = 0; i < 5; i++) await Promise.all([timed(a, tp()), timed(b, tp())]);
    const without: number[] = [];
    const withExport: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      // Interleaved, alternating who goes first, so machine noise falls on both alike.
      if (i % 2 === 0) {
        without.push(await timed(a, tp()));
        withExport.push(await timed(b, tp()));
      } else {
        withExport.push(await timed(b, tp()));
        without.push(await timed(a, tp()));
      }
    }
    const p50Without = median(without);
    const p50With = median(withExport);
    console.log(`p50 over ${CALLS} calls: without export ${p50Without.toFixed(2)} ms, exporting to a black hole ${p50With.toFixed(2)} ms`);
    // Generous for a shared 2-core machine: export must not add a collector's wait to a call.
    expect(p50With).toBeLessThan(p50Without * 1.5 + 5);
    // The collector never answered: 65 calls × 2 spans went nowhere, and the queue of 16 overflowed.
    const metrics = await (await fetch(`${exporting.url}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } })).text();
    const dropped = Number(/gatelog_otel_spans_total\{result="dropped"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(dropped).toBeGreaterThan(50);
    expect(metrics).not.toMatch(/gatelog_otel_spans_total\{result="exported"\} [1-9]/);
  });
});

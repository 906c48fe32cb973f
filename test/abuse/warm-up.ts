// Before an abuse test measures a steady tenant, the process is brought to its steady state:
// the tenant's key is known, the first calls' one-off costs (JIT, connection pools, the token
// estimator's worker loading its tables) are paid. Those are start-up costs, not the attack's.
import { sleep, steadyProbe, type ProbeResult } from './harness.ts';

/** Sequential small calls for `ms` (at least 10), each must succeed. */
export async function warmUp(url: string, secret: string, o: { model?: string; ms?: number } = {}): Promise<void> {
  const end = Date.now() + (o.ms ?? 3000);
  for (let i = 0; i < 10 || Date.now() < end; i++) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: o.model ?? 'fast', max_tokens: 16, messages: [{ role: 'user', content: 'warm up' }] }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`warm-up call → ${res.status}`);
    await sleep(20);
  }
}

/**
 * The steady tenant's latency alone, after warming up, and the p99 bound its calls must keep
 * during an attack: 250 ms, or 2.5× its p99 alone when the shared machine is so loaded that
 * even the quiet p99 nears 250 ms (a stalled event loop, the failure these tests catch, costs
 * seconds, far past either).
 */
export async function steadyAlone(url: string, secret: string, model = 'fast'): Promise<{ alone: ProbeResult; p99Bound: number }> {
  await warmUp(url, secret, { model });
  const probe = steadyProbe({ url, secret, model });
  await sleep(3000);
  const alone = await probe.stop();
  return { alone, p99Bound: Math.max(250, 2.5 * alone.p99) };
}

/** The gatelog process's worst event-loop delay since the previous call (prom-client resets it on every scrape). */
export async function loopLagMaxMs(gl: { url: string; adminHeaders: Record<string, string> }): Promise<number> {
  const text = await (await fetch(`${gl.url}/metrics`, { headers: gl.adminHeaders })).text();
  const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : Number.NaN;
}

// POST /v1/messages/count_tokens on an OpenAI-kind deployment is estimated by gatelog itself.
// Before, gpt-tokenizer ran on the event loop, roughly quadratic on a long run without
// whitespace: a 250 KB word stalled every tenant for tens of seconds and 1 MB never finished.
// It also skipped governance (model allow-list, rpm, budget) and reached upstreams freely.
// Now estimates run in a worker thread, linear, byte-based past 512 KiB; count_tokens is
// admitted and recorded like any model call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRecorded, sampleRss, startAbuseGatelog, startUpstream, steadyProbe, wellBehaved, type AbuseGatelog, type Upstream } from './harness.ts';
import { loopLagMaxMs, steadyAlone } from './warm-up.ts';

const RSS_BOUND_MB = 900;

let gl: AbuseGatelog;
let oai: Upstream;
let ant: Upstream;

beforeAll(async () => {
  oai = await startUpstream(wellBehaved());
  ant = await startUpstream(wellBehaved());
  gl = await startAbuseGatelog({
    config: {
      providers: { oai: { kind: 'openai', base_url: oai.baseUrl, api_key: 'sk-oai' }, ant: { kind: 'anthropic', base_url: ant.url, api_key: 'sk-ant' } },
      models: [
        { name: 'fast', deployments: [{ provider: 'oai', model: 'gpt-fast' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
      ],
    },
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await oai?.close();
  await ant?.close();
});

/** A word of `n` pseudo-random letters with no whitespace (no repeated pieces a tokenizer cache could shortcut). */
function word(n: number, seed: number): string {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 97 + ((x >>> 16) % 26);
  }
  return out.toString('latin1');
}

const countBody = (model: string, text: string): string => JSON.stringify({ model, messages: [{ role: 'user', content: text }] });

/** `text`: the message, or `body`: a whole request body built beforehand. */
function countTokens(secret: string, model: string, text: string | null, body = countBody(model, text ?? '')): Promise<Response> {
  return fetch(`${gl.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'x-api-key': secret, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body,
  });
}

describe('count_tokens', () => {
  it('a huge word is estimated off the event loop: other tenants keep their latency', async () => {
    const attacker = await gl.createKey({ name: 'counter' });
    const victim = await gl.createKey({ name: 'steady' });
    // 250 KB took 43 s on the event loop (now: the worker); 1 MB never finished (now: past
    // MAX_TOKENIZE_BYTES, estimated from its size).
    // Bodies are built before measuring: this process's own work must not count as the proxy's.
    const sizes = [250_000, 1_000_000];
    const bodies = sizes.map((n, i) => countBody('fast', word(n, i + 1)));
    const { alone, p99Bound } = await steadyAlone(gl.url, victim.secret);
    await loopLagMaxMs(gl); // resets the histogram
    const rss = sampleRss(gl.proc.pid!);
    const probe = steadyProbe({ url: gl.url, secret: victim.secret, model: 'fast' });
    const t0 = performance.now();
    const answers = await Promise.all(bodies.map((b) => countTokens(attacker.secret, 'fast', null, b)));
    const elapsed = performance.now() - t0;
    const p = await probe.stop();
    const mem = rss.stop();
    const lag = await loopLagMaxMs(gl);

    const ids: string[] = [];
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-gatelog-tokens-estimated')).toBe('true');
      const n = ((await res.json()) as { input_tokens: number }).input_tokens;
      // A word of random letters is 2-5 letters a token; bytes/4 past the bound.
      expect(n).toBeGreaterThan(sizes[i]! / 6);
      expect(n).toBeLessThan(sizes[i]! / 1.5);
      ids.push(res.headers.get('x-gatelog-request-id')!);
    }
    expect(elapsed).toBeLessThan(45_000); // a few seconds on a quiet machine
    console.log(
      `count-tokens: 2 words (250 KB, 1 MB) counted in ${(elapsed / 1000).toFixed(1)} s; steady p50/p99 alone ${alone.p50.toFixed(1)}/${alone.p99.toFixed(1)} ms, ` +
        `during ${p.p50.toFixed(1)}/${p.p99.toFixed(1)} ms (${p.ok} calls); RSS ${mem.startMb.toFixed(0)} → max ${mem.maxMb.toFixed(0)} MB; event loop lag max ${lag.toFixed(0)} ms`,
    );
    expect(p.failed, p.failures.join(',')).toBe(0);
    // Steady calls kept flowing during the attack (fewer when the machine runs other suites too).
    expect(p.ok).toBeGreaterThan(3);
    expect(p.p99).toBeLessThan(p99Bound);
    expect(gl.proc.exitCode).toBeNull();
    expect(mem.maxMb).toBeLessThan(RSS_BOUND_MB);

    // Each counted call is recorded exactly once, as a free call with its key.
    for (const id of ids) {
      let c = await countRecorded(gl, { requestId: id });
      for (let i = 0; i < 60 && c.stored === 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        c = await countRecorded(gl, { requestId: id });
      }
      expect(c).toMatchObject({ stored: 1, published: 1, deadLettered: 0 });
      const call = (await (await gl.admin('GET', `/admin/calls/${id}`)).json()) as Record<string, unknown>;
      expect(call).toMatchObject({ client_api: 'anthropic.count_tokens', key_id: attacker.id, outcome: 'success', status: 200, input_tokens: 0, output_tokens: 0 });
    }
  }, 75_000);

  it('goes through governance: model allow-list and rpm, refusals in the Anthropic shape, recorded once', async () => {
    const limited = await gl.createKey({ name: 'fast-only', models: ['fast'], rpm: 1 });
    const before = ant.requests.length;
    const codes: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await countTokens(limited.secret, 'claude', 'hello');
      codes.push(res.status);
      ids.push(res.headers.get('x-gatelog-request-id')!);
      expect(await res.json()).toEqual({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('not allowed') } });
    }
    expect(codes).toEqual([403, 403, 403, 403, 403]);
    expect(ant.requests.length - before).toBe(0); // nothing reached the Anthropic provider

    const first = await countTokens(limited.secret, 'fast', 'hello');
    expect(first.status).toBe(200);
    const second = await countTokens(limited.secret, 'fast', 'hello');
    expect(second.status).toBe(429);
    expect(await second.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } });
    ids.push(first.headers.get('x-gatelog-request-id')!, second.headers.get('x-gatelog-request-id')!);

    let rec = await countRecorded(gl, { keyId: limited.id });
    for (let i = 0; i < 60 && rec.stored < 7; i++) {
      await new Promise((r) => setTimeout(r, 250));
      rec = await countRecorded(gl, { keyId: limited.id });
    }
    expect(rec.stored).toBe(7);
    expect(rec.published).toBe(7);
    expect(new Set(rec.requestIds)).toEqual(new Set(ids));
  }, 30_000);
});

// A tenant must not get answers for free by closing the stream once the content arrived and
// before the upstream's usage chunk: the call is billed from what was produced (tokenizer
// estimate of the delivered text plus the input, flagged tokens_estimated) and the budget
// settles to that cost. Before, such a call was recorded with 0 tokens and a null cost and
// the budget settled at $0: 6 full answers on a $3 budget at $2 a call.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  countRecorded, openAiStreamEvents, sleep, startAbuseGatelog, startUpstream, steadyProbe, sampleRss, waitRecorded, wellBehaved,
  type AbuseGatelog, type Upstream,
} from './harness.ts';
import { steadyAlone } from './warm-up.ts';

/** 1,000 tokens of output (" hello" is one o200k token) at $2,000 per million output tokens: $2 a call. */
const PIECES = Array.from({ length: 1000 }, () => ' hello');
const CALL_USD = 2;
const BUDGET_USD = 3;
const RSS_BOUND_MB = 800;

let gl: AbuseGatelog;
let greedy: Upstream;
let steady: Upstream;

beforeAll(async () => {
  // Streams the whole answer and its finish reason at once, then holds the usage chunk back
  // for 20 s (a slow upstream, or one that reports usage last), ending early if the client left.
  greedy = await startUpstream((req, res) => {
    const events = openAiStreamEvents(String(req.body['model']), PIECES, { prompt_tokens: 12, completion_tokens: 1000, total_tokens: 1012 });
    const usage = events.splice(-2);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(events.join(''));
    const t = setTimeout(() => res.end(usage.join('')), 20_000);
    res.on('close', () => clearTimeout(t));
  });
  steady = await startUpstream(wellBehaved());
  gl = await startAbuseGatelog({
    config: {
      providers: { greedy: { kind: 'openai', base_url: greedy.baseUrl, api_key: 'sk-greedy' }, steady: { kind: 'openai', base_url: steady.baseUrl, api_key: 'sk-steady' } },
      models: [
        { name: 'answer', deployments: [{ provider: 'greedy', model: 'gpt-answer' }] },
        { name: 'fast', deployments: [{ provider: 'steady', model: 'gpt-fast' }] },
      ],
      pricing: [
        { provider: 'greedy', model: 'gpt-answer', input: 0, output: 2000 },
        { provider: 'steady', model: 'gpt-fast', input: 0, output: 0 },
      ],
    },
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await greedy?.close();
  await steady?.close();
});

/** One streamed call read until its finish reason, then abandoned. Returns the status and, when refused, the error body. */
async function answerThenAbort(secret: string): Promise<{ status: number; id: string | null; content: string; error?: unknown }> {
  const ac = new AbortController();
  const res = await fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'answer', stream: true, max_tokens: 1000, messages: [{ role: 'user', content: 'say hello a thousand times' }] }),
    signal: ac.signal,
  });
  const id = res.headers.get('x-gatelog-request-id');
  if (res.status !== 200) return { status: res.status, id, content: '', error: await res.json() };
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!text.includes('"finish_reason":"stop"')) {
    const r = await reader.read();
    if (r.done) break;
    text += dec.decode(r.value, { stream: true });
  }
  ac.abort();
  await reader.cancel().catch(() => undefined);
  const content = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
  return { status: 200, id, content };
}

it('aborted streams are billed from what was delivered: the budget holds to the cent', async () => {
  const attacker = await gl.createKey({ name: 'aborter', budget_usd: BUDGET_USD });
  const victim = await gl.createKey({ name: 'steady' });
  const { alone, p99Bound } = await steadyAlone(gl.url, victim.secret);
  const rss = sampleRss(gl.proc.pid!);
  const probe = steadyProbe({ url: gl.url, secret: victim.secret, model: 'fast' });

  const results = [];
  for (let i = 0; i < 6; i++) {
    results.push(await answerThenAbort(attacker.secret));
    await sleep(400); // an attack spread over seconds, so the steady tenant's calls overlap it
  }
  const p = await probe.stop();
  const mem = rss.stop();

  // The first answer is billed $2; with $1 left, no further $2 answer is admitted.
  const answered = results.filter((r) => r.status === 200);
  expect(answered).toHaveLength(1);
  expect(answered[0]!.content).toBe(PIECES.join(''));
  for (const r of results.slice(1)) {
    expect(r.status).toBe(429);
    expect(r.error).toMatchObject({ error: { type: expect.any(String), code: 'budget_exceeded', message: expect.any(String) } });
  }

  // Recorded once each: the aborted call with its estimated cost, the refusals at $0.
  const rec = await waitRecorded(gl, { keyId: attacker.id }, 6);
  expect(rec.stored).toBe(6);
  expect(rec.published).toBe(6);
  const call = (await (await gl.admin('GET', `/admin/calls/${answered[0]!.id!}`)).json()) as Record<string, unknown>;
  // 1,000 tokens by the tokenizer; 1,500 (6,000 bytes / 4) if its worker was still loading
  // past ESTIMATE_WAIT_MS on a starved machine. Either way billed, flagged, and settled as such.
  expect(call).toMatchObject({ outcome: 'client_aborted', tokens_estimated: true });
  expect([1000, 1500]).toContain(call['output_tokens']);
  expect(call['input_tokens']).toBeGreaterThan(0);
  const cost = call['cost_usd'] as number;
  expect(cost).toBeCloseTo((call['output_tokens'] as number) * (CALL_USD / 1000), 6);
  expect((await countRecorded(gl, { requestId: answered[0]!.id! })).published).toBe(1);

  // The ledger may count a settled cost twice for a moment while the store's spend catches up
  // (it never under-counts); it settles at exactly the call's cost.
  const want = Math.round(cost * 100) / 100;
  let spent = NaN;
  for (let i = 0; i < 40 && spent !== want; i++) {
    const key = (await (await gl.admin('GET', `/admin/keys/${attacker.id}`)).json()) as { budgets: { spent_usd: number }[] };
    spent = Math.round(key.budgets[0]!.spent_usd * 100) / 100;
    if (spent !== want) await sleep(250);
  }
  expect(spent).toBe(want);

  // The steady tenant never noticed.
  expect(p.failed, p.failures.join(',')).toBe(0);
  expect(p.ok).toBeGreaterThan(20);
  console.log(`abort-billing: steady p50/p99 alone ${alone.p50.toFixed(1)}/${alone.p99.toFixed(1)} ms, during ${p.p50.toFixed(1)}/${p.p99.toFixed(1)} ms (${p.ok} calls); RSS ${mem.startMb.toFixed(0)} → max ${mem.maxMb.toFixed(0)} MB`);
  expect(p.p99).toBeLessThan(p99Bound);
  expect(gl.proc.exitCode).toBeNull();
  expect(mem.maxMb).toBeLessThan(RSS_BOUND_MB);
}, 60_000);

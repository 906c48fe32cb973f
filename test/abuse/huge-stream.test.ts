// An upstream that streams ~150 MB of content and never reports usage. Before, the token
// estimate in the stream's end handler ran gpt-tokenizer on the whole text and threw
// `RangeError: Invalid array length` with no try/catch around it: proxy, UI and ingest all
// exited. Now text past the tokenizer's bound is estimated from its size (flagged
// tokens_estimated), and nothing thrown while capturing can end the process.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { countRecorded, sampleRss, sleep, steadyProbe, type AbuseGatelog } from './harness.ts';
import { loopLagMaxMs, steadyAlone } from './warm-up.ts';
import { curlChat, startFloodScene } from './flood-upstream.ts';

const PIECE = 64 * 1024;
const EVENTS = 2400; // ~150 MB of content
const RSS_BOUND_MB = 1500;

let gl: AbuseGatelog;
let scene: Awaited<ReturnType<typeof startFloodScene>> | undefined;

beforeAll(async () => {
  // ~150 MB of content without whitespace: to gpt-tokenizer one pre-token past V8's largest
  // array (2^27 elements), the RangeError that ended the process.
  scene = await startFloodScene(['stream', EVENTS, PIECE], 'flood');
  gl = scene.gl;
}, 90_000);

afterAll(async () => {
  await scene?.close();
});

it('a 150 MB stream without usage is relayed and recorded with a byte-based estimate; the process lives', async () => {
  const attacker = await gl.createKey({ name: 'flooded' });
  const victim = await gl.createKey({ name: 'steady' });
  const { alone, p99Bound } = await steadyAlone(gl.url, victim.secret);
  await loopLagMaxMs(gl);
  const rss = sampleRss(gl.proc.pid!);
  const probe = steadyProbe({ url: gl.url, secret: victim.secret, model: 'fast' });

  const t0 = performance.now();
  const { status, id, bytes, tail } = await curlChat(gl.url, attacker.secret, { model: 'flood', stream: true, messages: [{ role: 'user', content: 'write forever' }] });
  expect(status).toBe(200);
  const elapsed = performance.now() - t0;
  await sleep(1000); // the process would exit right after the end
  const p = await probe.stop();
  const mem = rss.stop();
  const lag = await loopLagMaxMs(gl);

  expect(bytes).toBeGreaterThan(EVENTS * PIECE);
  expect(tail).toContain('"finish_reason":"stop"');
  expect(tail.endsWith('data: [DONE]\n\n')).toBe(true);
  expect(gl.proc.exitCode).toBeNull();
  expect(gl.logs()).not.toContain('RangeError');

  // Recorded once, its output estimated from its size (~4 bytes a token), body truncated.
  let c = await countRecorded(gl, { requestId: id });
  for (let i = 0; i < 80 && c.stored === 0; i++) {
    await sleep(250);
    c = await countRecorded(gl, { requestId: id });
  }
  expect(c).toMatchObject({ stored: 1, published: 1, deadLettered: 0 });
  const call = (await (await gl.admin('GET', `/admin/calls/${id}`)).json()) as Record<string, unknown>;
  expect(call).toMatchObject({ outcome: 'success', status: 200, tokens_estimated: true, truncated: true, key_id: attacker.id });
  expect(call['output_tokens']).toBe(Math.ceil((EVENTS * Math.floor(PIECE / 12) * 12) / 4));
  expect(call['response_bytes']).toBeLessThan(16 * 1024 * 1024); // what the capture kept is bounded

  console.log(
    `huge-stream: ${(bytes / 1e6).toFixed(0)} MB relayed in ${(elapsed / 1000).toFixed(1)} s; steady p50/p99 alone ${alone.p50.toFixed(1)}/${alone.p99.toFixed(1)} ms, ` +
      `during ${p.p50.toFixed(1)}/${p.p99.toFixed(1)} ms (${p.ok} calls); RSS ${mem.startMb.toFixed(0)} → max ${mem.maxMb.toFixed(0)} MB; event loop lag max ${lag.toFixed(0)} ms`,
  );
  expect(p.failed, p.failures.join(',')).toBe(0);
  expect(p.p99).toBeLessThan(p99Bound);
  expect(mem.maxMb).toBeLessThan(RSS_BOUND_MB);
}, 120_000);

// An upstream that opens a `data:` line and never ends it (150 MB, no newline). Before, the
// pending bytes were re-joined on every chunk (quadratic) with no limit: 2.4 GB of RSS and
// no answer in 120 s. Now an SSE event is collected as a list of pieces, joined once, and
// bounded by MAX_SSE_EVENT_BYTES (16 MiB): past it the call ends with an error event in the
// client's API shape, recorded as `upstream_event_too_large`; the process lives.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { countRecorded, sampleRss, sleep, steadyProbe, type AbuseGatelog } from './harness.ts';
import { loopLagMaxMs, steadyAlone } from './warm-up.ts';
import { curlChat, startFloodScene } from './flood-upstream.ts';

const RSS_BOUND_MB = 900;

let gl: AbuseGatelog;
let scene: Awaited<ReturnType<typeof startFloodScene>> | undefined;

beforeAll(async () => {
  scene = await startFloodScene(['line', 150], 'endless');
  gl = scene.gl;
}, 90_000);

afterAll(async () => {
  await scene?.close();
});

it('an unterminated 150 MB SSE line ends the call with an error event at 16 MiB; memory stays bounded', async () => {
  const attacker = await gl.createKey({ name: 'endless' });
  const victim = await gl.createKey({ name: 'steady' });
  const { alone, p99Bound } = await steadyAlone(gl.url, victim.secret);
  await loopLagMaxMs(gl);
  const rss = sampleRss(gl.proc.pid!);
  const probe = steadyProbe({ url: gl.url, secret: victim.secret, model: 'fast' });

  const t0 = performance.now();
  const r = await curlChat(gl.url, attacker.secret, { model: 'endless', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const elapsed = performance.now() - t0;
  await sleep(500);
  const p = await probe.stop();
  const mem = rss.stop();
  const lag = await loopLagMaxMs(gl);

  // Streaming had begun (200 and the first event), so the failure is the OpenAI stream error
  // event; the unterminated line itself never reached the client (events are forwarded whole).
  expect(r.status).toBe(200);
  expect(r.bytes).toBeLessThan(64 * 1024);
  const last = r.tail.trim().split('\n\n').pop()!;
  expect(last.startsWith('data: ')).toBe(true);
  expect(JSON.parse(last.slice(6))).toEqual({ error: { message: expect.stringContaining('16777216 bytes'), type: 'server_error', param: null, code: 'upstream_event_too_large' } });
  expect(elapsed).toBeLessThan(30_000);
  expect(gl.proc.exitCode).toBeNull();

  let c = await countRecorded(gl, { requestId: r.id });
  for (let i = 0; i < 60 && c.stored === 0; i++) {
    await sleep(250);
    c = await countRecorded(gl, { requestId: r.id });
  }
  expect(c).toMatchObject({ stored: 1, published: 1, deadLettered: 0 });
  const call = (await (await gl.admin('GET', `/admin/calls/${r.id}`)).json()) as Record<string, unknown>;
  expect(call).toMatchObject({ outcome: 'partial', error_type: 'upstream_event_too_large', status: 200, key_id: attacker.id });

  console.log(
    `sse-unterminated: failed after ${(elapsed / 1000).toFixed(1)} s; steady p50/p99 alone ${alone.p50.toFixed(1)}/${alone.p99.toFixed(1)} ms, ` +
      `during ${p.p50.toFixed(1)}/${p.p99.toFixed(1)} ms (${p.ok} calls); RSS ${mem.startMb.toFixed(0)} → max ${mem.maxMb.toFixed(0)} MB; event loop lag max ${lag.toFixed(0)} ms`,
  );
  expect(p.failed, p.failures.join(',')).toBe(0);
  expect(p.p99).toBeLessThan(p99Bound);
  expect(mem.maxMb).toBeLessThan(RSS_BOUND_MB);
}, 60_000);

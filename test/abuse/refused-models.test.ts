// Memory from refused calls: a tenant sends `model: "fake/<1 MB>"` (a configured provider, a
// name no model has) 150 times. Before governance ran ahead of routing, every name was
// cached for good in the model table and became a /metrics label: RSS grew by gigabytes and
// /metrics to 157 MB. Now the allow-list refuses before routing keeps anything, routing keeps
// no name over 256 characters, unconfigured `provider/model` routes live in a bounded LRU and
// share one metrics label, and the event keeps 256 characters of the name.
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countRecorded,
  p99BoundMs,
  sampleRss,
  startAbuseGatelog,
  startUpstream,
  steadyProbe,
  stopAll,
  waitRecorded,
  wellBehaved,
  type AbuseGatelog,
  type Upstream,
} from './harness.ts';

const HUGE = `fake/${'m'.repeat(1024 * 1024)}`;
const ATTACKS = 150;

let gl: AbuseGatelog;
let up: Upstream;

beforeAll(async () => {
  up = await startUpstream(wellBehaved());
  gl = await startAbuseGatelog({
    config: {
      providers: { fake: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-upstream-fake' } },
      models: [{ name: 'fast', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] }],
    },
  });
}, 180_000);

afterAll(() => stopAll(gl, up));

function chat(secret: string, model: string): Promise<Response> {
  return fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

/**
 * One attack call on a connection of its own: a megabyte written onto a kept-alive connection
 * the server is closing for idleness fails in the client, and the test must know whether the
 * call reached gatelog (it counts records).
 */
async function attack(secret: string, model: string): Promise<{ status: number; text: string }> {
  const dispatcher = new Agent({ pipelining: 0 });
  try {
    const res = await undiciFetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      dispatcher,
    });
    return { status: res.status, text: await res.text() };
  } finally {
    await dispatcher.close();
  }
}

async function metricsBytes(): Promise<number> {
  const res = await fetch(`${gl.url}/metrics`, { headers: gl.adminHeaders });
  expect(res.status).toBe(200);
  return (await res.arrayBuffer()).byteLength;
}

describe('refused and unknown model names leave nothing behind', () => {
  it('150 × 1 MB model names: 403 before routing, bounded RSS and /metrics, each recorded once with a capped name', { timeout: 180_000 }, async () => {
    const victim = await gl.createKey({ name: 'steady-tenant', models: ['fast'] });
    const attacker = await gl.createKey({ name: 'model-flood', models: ['fast'] });
    const anyModel = await gl.createKey({ name: 'any-model' });
    // Warm up: the probe's first calls load lazily imported code.
    expect((await chat(victim.secret, 'fast')).status).toBe(200);
    const metricsBefore = await metricsBytes();

    const rss = sampleRss(gl.proc.pid!);
    const probe = steadyProbe({ url: gl.url, secret: victim.secret, model: 'fast' });
    let allowListed = 0;
    let unknown = 0;
    // One client sending back to back, as a loop of curl calls would.
    for (let i = 0; i < ATTACKS; i++) {
      // Most from a key with an allow-list (403); some from a key allowed any model (404).
      const open = i % 5 === 0;
      const res = await attack(open ? anyModel.secret : attacker.secret, `${HUGE}${i}`);
      const text = res.text;
      // The answer echoes a bounded part of the name, never the megabyte.
      expect(text.length).toBeLessThan(2048);
      const body = JSON.parse(text) as { error: { type: string; code: string } };
      if (open) {
        expect(res.status, text).toBe(404);
        expect(body.error).toMatchObject({ code: 'model_not_found', type: 'invalid_request_error' });
        unknown++;
      } else {
        expect(res.status, text).toBe(403);
        expect(body.error).toMatchObject({ code: 'model_not_allowed', type: 'permission_error' });
        allowListed++;
      }
    }
    const steady = await probe.stop();
    const mem = rss.stop();
    console.log(`refused-models: steady ok=${steady.ok} failed=${steady.failed} p50=${steady.p50.toFixed(1)} p99=${steady.p99.toFixed(1)} ms; RSS ${mem.startMb.toFixed(0)} → max ${mem.maxMb.toFixed(0)} MB; p99 bound ${p99BoundMs().toFixed(0)} ms`);

    expect(gl.proc.exitCode).toBeNull();
    expect(steady.failed, steady.failures.join(',')).toBe(0);
    expect(steady.ok).toBeGreaterThan(10);
    expect(steady.p99).toBeLessThan(p99BoundMs());
    // 150 MB of names went through; a process that kept them would hold far more than this.
    expect(mem.maxMb - mem.startMb).toBeLessThan(500);
    expect((await metricsBytes()) - metricsBefore).toBeLessThan(8 * 1024);

    // Each refused call recorded once, its requested_model capped.
    const a = await waitRecorded(gl, { keyId: attacker.id }, allowListed);
    expect(a).toMatchObject({ stored: allowListed, published: allowListed, deadLettered: 0 });
    const b = await waitRecorded(gl, { keyId: anyModel.id }, unknown);
    expect(b).toMatchObject({ stored: unknown, published: unknown, deadLettered: 0 });
    const one = await gl.admin('GET', `/admin/calls/${a.requestIds[0]!}`);
    const call = (await one.json()) as { requested_model: string; outcome: string; status: number };
    expect(call).toMatchObject({ outcome: 'refused', status: 403 });
    expect(call.requested_model.length).toBeLessThanOrEqual(257);
    expect(call.requested_model.startsWith('fake/mmmm')).toBe(true);
    expect((await countRecorded(gl, { requestId: a.requestIds[0]! })).published).toBe(1);
  });

  it('unconfigured provider/model names still route (bounded), and /metrics sums them under one label', { timeout: 180_000 }, async () => {
    const { secret } = await gl.createKey({ name: 'direct-user' });
    for (let i = 0; i < 30; i++) expect((await chat(secret, `fake/model-${i}`)).status).toBe(200);
    const text = await (await fetch(`${gl.url}/metrics`, { headers: gl.adminHeaders })).text();
    expect(text).not.toContain('model-1');
    expect(text).toContain('gatelog_deployment_in_flight{provider="fake",model="other"}');
    const deps = (await (await gl.admin('GET', '/admin/deployments')).json()) as { data: { model: string; ad_hoc: boolean }[] };
    expect(deps.data.filter((d) => d.ad_hoc).length).toBeGreaterThanOrEqual(30);
  });
});

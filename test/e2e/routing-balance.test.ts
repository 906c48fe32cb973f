// Load balancing and cooldowns through a real proxy: weights over many calls, least-busy and
// latency strategies, a deployment cooling down and coming back (seen in /admin/deployments
// and /metrics), and SSE keepalives on a quiet stream.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startRoutingProxy, until, type RoutingProxy } from '../support/routing-proxy.ts';

const MASTER = 'gl-master-routing-balance';
let a: FakeOpenAi;
let b: FakeOpenAi;
let gw: RoutingProxy;

const dep = (p: string, weight = 1, model = `gpt-${p}`): Record<string, unknown> => ({ provider: p, model, weight });

beforeAll(async () => {
  a = await startFakeOpenAi();
  b = await startFakeOpenAi();
  gw = await startRoutingProxy(
    {
      providers: { a: { kind: 'openai', base_url: a.baseUrl, api_key: 'sk-a' }, b: { kind: 'openai', base_url: b.baseUrl, api_key: 'sk-b' } },
      models: [
        { name: 'weighted', deployments: [dep('a', 1), dep('b', 3)] },
        { name: 'busy', strategy: 'least-busy', deployments: [dep('a'), dep('b')] },
        // Its own deployments: health and latency are kept per deployment (provider and model), so
        // these start unmeasured however the calls of the other tests went.
        { name: 'fastest', strategy: 'latency', deployments: [dep('a', 1, 'gpt-a-timed'), dep('b', 1, 'gpt-b-timed')] },
      ],
      router: {
        retries: 2,
        backoff: { base_ms: 10, max_ms: 50 },
        timeouts: { ttfb_ms: 5000, idle_ms: 5000, total_ms: 20_000 },
        cooldown: { failures: 2, window_ms: 10_000, cooldown_ms: 1500 },
        sse_keepalive_ms: 100,
      },
    },
    MASTER,
  );
});

afterAll(async () => {
  await gw?.close();
  await a?.close();
  await b?.close();
});

beforeEach(() => {
  a.reset();
  b.reset();
});

const auth = { authorization: `Bearer ${MASTER}` };

async function chat(model: string, opts: { stream?: boolean; signal?: AbortSignal } = {}): Promise<{ status: number; text: string; id: string | null }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'balance' }], ...(opts.stream ? { stream: true } : {}) }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { status: res.status, text: await res.text(), id: res.headers.get('x-gatelog-request-id') };
}

interface Snapshot {
  provider: string;
  model: string;
  state: string;
  in_flight: number;
  cooldown_until: string | null;
  ewma_latency_ms: number | null;
  total_failures: number;
}

/** The live state of this file's two deployments named `gpt-<provider><suffix>` (gpt-a and gpt-b by default). */
async function deployments(suffix = ''): Promise<Snapshot[]> {
  const res = await fetch(`${gw.url}/admin/deployments`, { headers: auth });
  expect(res.status).toBe(200);
  const all = ((await res.json()) as { data: Snapshot[] }).data;
  const mine = all.filter((d) => d.model === `gpt-${d.provider}${suffix}`);
  expect(mine).toHaveLength(2);
  return mine;
}

describe('strategies', () => {
  it('weighted: a 1:3 split within tolerance over many calls, each recorded on the deployment that answered', async () => {
    const n = 200;
    for (let i = 0; i < n; i++) expect((await chat('weighted')).status).toBe(200);
    expect(a.requests.length + b.requests.length).toBe(n);
    const share = b.requests.length / n;
    expect(share).toBeGreaterThan(0.62);
    expect(share).toBeLessThan(0.88);
    const last = gw.events.at(-1)!;
    expect(last.attempts).toHaveLength(1);
    expect(last.deployment_model).toBe(`gpt-${last.provider}`);
  });

  it('least-busy: each new call goes to the deployment with fewer in flight', async () => {
    a.behave({ hang: 'headers' });
    b.behave({ hang: 'headers' });
    const ac = new AbortController();
    const calls: Promise<unknown>[] = [];
    for (let i = 1; i <= 4; i++) {
      calls.push(chat('busy', { signal: ac.signal }).catch(() => null));
      await until(() => a.requests.length + b.requests.length === i, `call ${i} to reach an upstream`);
    }
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(2);
    const live = await deployments();
    expect(live.map((d) => d.in_flight)).toEqual([2, 2]);
    ac.abort();
    await Promise.all(calls);
    await until(() => [...a.requests, ...b.requests].every((r) => r.aborted), 'the upstreams to see the aborts');
    await until(() => gw.events.filter((e) => e.outcome === 'client_aborted').length >= 4, 'the aborted calls to be recorded');
    expect((await deployments()).map((d) => d.in_flight)).toEqual([0, 0]);
  });

  it('latency: after measuring both, calls go to the faster deployment', async () => {
    a.behave({ delayHeadersMs: 120 });
    for (let i = 0; i < 12; i++) expect((await chat('fastest')).status).toBe(200);
    // Both are measured first (one call each), then the lower EWMA wins every time.
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(11);
    const live = await deployments('-timed');
    expect(live.find((d) => d.provider === 'a')!.ewma_latency_ms).toBeGreaterThan(live.find((d) => d.provider === 'b')!.ewma_latency_ms!);
  });
});

describe('cooldown', () => {
  it('is entered after repeated failures, shown in /admin/deployments and /metrics, and left after a probe', async () => {
    a.behave({ error: { status: 503 } });
    // Clients never notice: a's failures are retried on b.
    for (let i = 0; i < 40 && a.requests.length < 2; i++) expect((await chat('weighted')).status).toBe(200);
    expect(a.requests).toHaveLength(2);
    const cooling = (await deployments()).find((d) => d.provider === 'a')!;
    expect(cooling.state).toBe('cooling');
    expect(Date.parse(cooling.cooldown_until!)).toBeGreaterThan(Date.now());
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/gatelog_deployment_cooldown\{provider="a",model="gpt-a"\} 1/);
    expect(metrics).toMatch(/gatelog_deployment_cooldown\{provider="b",model="gpt-b"\} 0/);
    // While cooling, a is skipped entirely.
    for (let i = 0; i < 10; i++) expect((await chat('weighted')).status).toBe(200);
    expect(a.requests).toHaveLength(2);
    // After the cooldown a probe goes through; a healthy answer closes the circuit.
    a.behave({});
    await new Promise((r) => setTimeout(r, 1600));
    for (let i = 0; i < 60 && a.requests.length < 3; i++) expect((await chat('weighted')).status).toBe(200);
    expect(a.requests).toHaveLength(3);
    expect((await deployments()).find((d) => d.provider === 'a')!.state).toBe('ok');
    expect(await (await fetch(`${gw.url}/metrics`, { headers: auth })).text()).toMatch(/gatelog_deployment_cooldown\{provider="a",model="gpt-a"\} 0/);
  });

  it('/admin/deployments needs the master key', async () => {
    expect((await fetch(`${gw.url}/admin/deployments`)).status).toBe(401);
  });
});

describe('keepalive', () => {
  it('a quiet stream gets SSE comments between events, and the events themselves are unchanged', async () => {
    a.behave({ chunkDelayMs: 260 });
    b.behave({ chunkDelayMs: 260 });
    const r = await chat('weighted', { stream: true });
    expect(r.status).toBe(200);
    const parts = r.text.split('\n\n').filter(Boolean);
    expect(parts.filter((p) => p === ': keepalive').length).toBeGreaterThan(0);
    const data = parts.filter((p) => p !== ': keepalive');
    expect(data.at(-1)).toBe('data: [DONE]');
    for (const d of data.slice(0, -1)) expect(() => JSON.parse(d.slice(6)) as unknown).not.toThrow();
    expect((await gw.eventFor(r.id)).outcome).toBe('success');
  });
});

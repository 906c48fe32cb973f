// Vertex without a key file, as a GKE pod (Workload Identity) or GCE VM runs gatelog: a real
// `gatelog start` given only the environment such a pod has (CLOUD_ML_REGION, and
// GCE_METADATA_HOST pointing at the fake), the real SDKs as clients, and a fake that is both the
// metadata server (refusing requests without `Metadata-Flavor: Google`) and Vertex AI. Checked:
// the token and the project come from the metadata server, the token is kept across calls and
// renewed once on a 401, a metadata server that does not answer is a clean 502 naming the
// provider, and no token reaches the record or the logs.
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { FAKE_PROJECT, startFakeVertex, type FakeVertex } from '../support/fake-vertex.ts';

const MASTER = `mk-${randomUUID()}`;
const MODEL = 'claude-3-5-haiku@20241022';
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';

let vertex: FakeVertex;
let gl: GatelogProcess;
/** A loopback port nobody listens on. */
let closedPort: number;

const anthropic = (): Anthropic => new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
const openai = (): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const tokenFetches = (): number => vertex.metadataRequests.filter((r) => r.path === TOKEN_PATH).length;

beforeAll(async () => {
  vertex = await startFakeVertex();
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  gl = await startGatelog({
    bareEnv: true,
    env: { GATELOG_MASTER_KEY: MASTER, CLOUD_ML_REGION: 'us-east5', GCE_METADATA_HOST: vertex.metadataHost },
    config: {
      ingest: { batch_ms: 50 },
      providers: {
        vtx: { kind: 'vertex', base_url: vertex.url },
        down: { kind: 'vertex', base_url: vertex.url, project: FAKE_PROJECT, metadata_host: `127.0.0.1:${closedPort}` },
      },
      models: [
        { name: 'claude', deployments: [{ provider: 'vtx', model: MODEL }] },
        { name: 'claude-down', deployments: [{ provider: 'down', model: MODEL }] },
      ],
      router: { retries: 0 },
    },
    timeoutMs: 60_000,
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await vertex?.close();
});

describe('GKE Workload Identity / GCE: the metadata server', () => {
  it('token and project come from the metadata server (Metadata-Flavor: Google); the token is kept across calls and never recorded', async () => {
    const { data, response } = await anthropic().messages.create({ model: 'claude', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.content).toEqual([{ type: 'text', text: 'Fake reply to: hi' }]);
    expect(vertex.metadataRequests.map((r) => r.path).sort()).toEqual([TOKEN_PATH, '/computeMetadata/v1/project/project-id']);
    expect(vertex.metadataRequests.every((r) => r.flavor === 'Google')).toBe(true);
    const r = vertex.requests.at(-1)!;
    expect(r.authorized).toBe(true);
    expect(r.headers['authorization']).toMatch(/^Bearer ya29\.c\.fake-metadata-token-/);
    expect(r.path).toBe(`/v1/projects/${FAKE_PROJECT}/locations/us-east5/publishers/anthropic/models/${MODEL}:rawPredict`);

    const stream = await openai().chat.completions.create({ model: 'claude', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'stream' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Fake reply to: stream');
    expect(tokenFetches()).toBe(1);

    const e = await recordedCall<Record<string, unknown>>(gl, MASTER, response.headers.get('x-gatelog-request-id')!);
    expect(e).toMatchObject({ provider: 'vtx', status: 200 });
    expect(JSON.stringify(e)).not.toContain('ya29.');
    expect(gl.logs()).not.toContain('ya29.');
  });

  it('a token Vertex refuses is fetched again once from the metadata server, and the call goes through', async () => {
    const before = tokenFetches();
    vertex.revokeTokens();
    const msg = await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'after revoke' }] });
    expect(msg.content[0]).toMatchObject({ text: 'Fake reply to: after revoke' });
    expect(tokenFetches()).toBe(before + 1);
  });

  it('a metadata server that does not answer is a clean 502 naming the provider, in each client’s shape', async () => {
    vertex.reset();
    const a = await anthropic().messages.create({ model: 'claude-down', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(Anthropic.InternalServerError);
    expect((a as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((a as Error).message).toContain(`provider down: the metadata server at 127.0.0.1:${closedPort} did not answer`);
    const o = await openai().chat.completions.create({ model: 'claude-down', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(o).toBeInstanceOf(OpenAI.InternalServerError);
    expect((o as Error).message).toContain('provider down');
    expect(vertex.requests).toHaveLength(0);
    expect(gl.proc.exitCode).toBeNull();
  });
});

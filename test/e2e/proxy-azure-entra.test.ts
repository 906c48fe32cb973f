// Azure OpenAI with Microsoft Entra ID instead of an api-key, as an AKS pod (Workload Identity)
// or a service with a client secret runs gatelog: a real `gatelog start` given only the AZURE_*
// environment such a pod has, the real openai and @anthropic-ai/sdk SDKs as clients, a fake
// Entra token endpoint that checks each form field, and a fake Azure OpenAI that takes only the
// tokens it issued. Checked: the client assertion (the federated token file) or secret at the
// token endpoint, the Bearer token at Azure and no api-key, the token kept and renewed once on a
// 401, a refused exchange a clean 401 naming the provider, no credential recorded or logged.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { CLIENT_ID, SCOPE, TENANT, startFakeAzure, type FakeAzure } from '../support/fake-azure.ts';

const MASTER = `mk-${randomUUID()}`;

let oai: FakeOpenAi;
let az: FakeAzure;
let gl: GatelogProcess;

const openai = (): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const anthropic = (): Anthropic => new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
const tokenRequests = (): Record<string, string>[] => az.requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token')).map((r) => r.form);
const calls = (): typeof az.requests => az.requests.filter((r) => r.path.startsWith('/openai/'));

function expectNoCredential(text: string): void {
  for (const s of [az.clientSecret, az.federatedToken, ...az.issued.map((i) => i.token)]) expect(text).not.toContain(s);
}

beforeAll(async () => {
  oai = await startFakeOpenAi();
  az = await startFakeAzure(oai.url);
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'gatelog-aks-')), 'azure-identity-token');
  writeFileSync(tokenFile, az.federatedToken);
  gl = await startGatelog({
    bareEnv: true,
    // What AKS Workload Identity's webhook puts in a pod, plus a secret for the client-credentials provider.
    env: { GATELOG_MASTER_KEY: MASTER, AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: az.url, AZ_SECRET: az.clientSecret },
    config: {
      ingest: { batch_ms: 50 },
      providers: {
        wi: { kind: 'azure', base_url: az.url, auth: 'entra' },
        cs: { kind: 'azure', base_url: az.url, auth: 'entra', client_secret: '${AZ_SECRET}' },
        bad: { kind: 'azure', base_url: az.url, auth: 'entra', client_secret: 'not-the-secret-0123456789' },
      },
      models: [
        { name: 'gpt-wi', deployments: [{ provider: 'wi', model: 'gpt-4o-mini' }] },
        { name: 'gpt-cs', deployments: [{ provider: 'cs', model: 'gpt-4o-mini' }] },
        { name: 'gpt-bad', deployments: [{ provider: 'bad', model: 'gpt-4o-mini' }] },
      ],
      router: { retries: 0 },
    },
    timeoutMs: 60_000,
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([az?.close(), oai?.close()]);
});

describe('Azure OpenAI with Entra ID', () => {
  it('AKS Workload Identity: the federated token is the client assertion; the Bearer token reaches Azure, no api-key; nothing recorded or logged', async () => {
    const { data, response } = await openai().chat.completions.create({ model: 'gpt-wi', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Fake reply to: hi');
    expect(tokenRequests()).toEqual([{
      grant_type: 'client_credentials', client_id: CLIENT_ID, scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: az.federatedToken,
    }]);
    const call = calls()[0]!;
    expect(call.authorized).toBe(true);
    expect(call.path).toMatch(/^\/openai\/deployments\/gpt-4o-mini\/chat\/completions\?api-version=/);
    expect(call.headers['authorization']).toBe(`Bearer ${az.issued[0]!.token}`);
    expect(call.headers['api-key']).toBeUndefined();

    // The token is kept: a streamed call needs no new exchange.
    const stream = await openai().chat.completions.create({ model: 'gpt-wi', stream: true, messages: [{ role: 'user', content: 'stream' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Fake reply to: stream');
    expect(tokenRequests()).toHaveLength(1);

    const e = await recordedCall<Record<string, unknown>>(gl, MASTER, response.headers.get('x-gatelog-request-id')!);
    expect(e).toMatchObject({ provider: 'wi', status: 200 });
    expectNoCredential(JSON.stringify(e));
    expectNoCredential(gl.logs());
  });

  it('client credentials with a secret, for an Anthropic client (translated)', async () => {
    az.reset();
    const msg = await anthropic().messages.create({ model: 'gpt-cs', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Fake reply to: hello' });
    expect(tokenRequests()).toEqual([{ grant_type: 'client_credentials', client_id: CLIENT_ID, scope: SCOPE, client_secret: az.clientSecret }]);
    expect(calls()[0]!.authorized).toBe(true);
  });

  it('a token Azure refuses is renewed once and the call goes through', async () => {
    az.revokeTokens();
    az.reset();
    const r = await openai().chat.completions.create({ model: 'gpt-wi', messages: [{ role: 'user', content: 'again' }] });
    expect(r.choices[0]!.message.content).toBe('Fake reply to: again');
    expect(calls().map((c) => c.authorized)).toEqual([false, true]);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('a refused exchange is a clean 401 naming the provider with Entra’s reason, the secret not echoed', async () => {
    az.reset();
    const o = await openai().chat.completions.create({ model: 'gpt-bad', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(o).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((o as Error).message).toContain('provider bad: Entra ID token');
    expect((o as Error).message).toContain('AADSTS7000215');
    expect((o as Error).message).not.toContain('not-the-secret');
    const a = await anthropic().messages.create({ model: 'gpt-bad', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(calls()).toHaveLength(0);
    expect(gl.proc.exitCode).toBeNull();
  });
});

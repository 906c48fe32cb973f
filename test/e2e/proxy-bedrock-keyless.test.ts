// Bedrock without static keys, as a pod runs gatelog: real `gatelog start` processes given only
// the environment EKS gives a pod (nothing of this machine's), the real @anthropic-ai/sdk and
// openai SDKs as clients, and fakes for AWS only: a container credentials endpoint (EKS Pod
// Identity / ECS) and STS (IRSA's AssumeRoleWithWebIdentity, AssumeRole) handing out short-lived
// keys, and a fake Bedrock verifying each SigV4 signature with the temporary keys and session
// token it was made with, refusing expired ones. Checked: calls signed with the chain's
// credentials, renewed before they expire and fetched again after; a role assumed on top; a
// failing source a clean error naming the provider; nothing to find refused at start; no
// credential in the record or the logs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { until } from '../support/routing-proxy.ts';
import { startFakeBedrock, type BedrockRequest, type FakeBedrock } from '../support/fake-bedrock.ts';
import { ROLE_ARN, startFakeAwsCredentials, type FakeAwsCredentials } from '../support/fake-aws-credentials.ts';

const MASTER = `mk-${randomUUID()}`;
const MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
/** Short-lived on purpose: renewal (last half of their life) and expiry happen within the test. */
const LIFETIME_MS = 6_000;

let aws: FakeAwsCredentials;
let bedrock: FakeBedrock;
/** Checks signatures against a secret that is not the issued one: every call is refused, quoting the session token. */
let refusing: FakeBedrock;
const started: GatelogProcess[] = [];

const secretsDir = mkdtempSync(join(tmpdir(), 'gatelog-pod-'));
const config = (extra: Record<string, object> = {}): object => ({
  ingest: { batch_ms: 50 },
  providers: { bed: { kind: 'bedrock', base_url: bedrock.url }, ...extra },
  models: [
    { name: 'claude', deployments: [{ provider: 'bed', model: MODEL }] },
    ...Object.keys(extra).map((p) => ({ name: `claude-${p}`, deployments: [{ provider: p, model: MODEL }] })),
  ],
  router: { retries: 0 },
});
/** What every pod here has: a region, and no instance metadata (this is no EC2 host). */
const POD = { AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', GATELOG_MASTER_KEY: MASTER };

async function start(env: Record<string, string>, extra?: Record<string, object>): Promise<GatelogProcess> {
  const gl = await startGatelog({ bareEnv: true, env: { ...POD, ...env }, config: config(extra), timeoutMs: 60_000 });
  started.push(gl);
  return gl;
}

const anthropic = (gl: GatelogProcess): Anthropic => new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
const openai = (gl: GatelogProcess): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const sleepUntil = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
const keyId = (r: BedrockRequest): string => /Credential=([A-Z0-9]+)\//.exec(String(r.headers['authorization']))?.[1] ?? '';

/** Nothing any fake handed out appears in `text`. */
function expectNoCredential(text: string): void {
  for (const k of aws.issued) for (const s of [k.secretAccessKey, k.sessionToken]) expect(text).not.toContain(s);
  expect(text).not.toContain(aws.authorizationToken);
  expect(text).not.toContain(aws.webIdentityToken);
  expect(text).not.toMatch(/AWS4-HMAC-SHA256|x-amz-security-token/i);
}

async function hello(gl: GatelogProcess, model = 'claude'): Promise<{ text: string; id: string }> {
  const { data, response } = await anthropic(gl).messages.create({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] }).withResponse();
  return { text: (data.content[0] as { text: string }).text, id: response.headers.get('x-gatelog-request-id')! };
}

beforeAll(async () => {
  aws = await startFakeAwsCredentials(LIFETIME_MS);
  bedrock = await startFakeBedrock({ keysFor: (id) => aws.keysFor(id) });
  refusing = await startFakeBedrock({ keysFor: (id) => { const k = aws.keysFor(id); return k && { ...k, secretAccessKey: 'not-the-issued-secret' }; } });
});

afterAll(async () => {
  for (const gl of started) await gl.stop();
  await Promise.all([aws?.close(), bedrock?.close(), refusing?.close()]);
});

describe('EKS Pod Identity / ECS: container credentials', () => {
  let gl: GatelogProcess;
  beforeAll(async () => {
    const tokenFile = join(secretsDir, 'pod-identity-token');
    writeFileSync(tokenFile, aws.authorizationToken);
    gl = await start(
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: aws.containerUri, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile, AWS_ENDPOINT_URL_STS: aws.url },
      { role: { kind: 'bedrock', base_url: bedrock.url, aws_role_arn: ROLE_ARN, aws_role_session_name: 'gl-test' }, refused: { kind: 'bedrock', base_url: refusing.url } },
    );
  }, 90_000);

  it('both SDKs are served with SigV4 over the temporary keys and session token; nothing of them is recorded or logged', async () => {
    bedrock.reset();
    aws.reset();
    const first = await hello(gl);
    expect(first.text).toBe('Fake reply to: hello');
    expect(aws.requests[0]).toMatchObject({ method: 'GET', path: '/creds' });
    expect(aws.requests[0]!.headers['authorization']).toBe(aws.authorizationToken);
    const creds = aws.issued.find((k) => k.via === 'container')!;
    const r = bedrock.requests[0]!;
    expect(r.verified).toBe(true);
    expect(keyId(r)).toBe(creds.accessKeyId);
    expect(r.headers['x-amz-security-token']).toBe(creds.sessionToken);

    const stream = await openai(gl).chat.completions.create({ model: 'claude', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'stream' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Fake reply to: stream');
    expect(bedrock.requests.every((x) => x.verified)).toBe(true);

    const e = await recordedCall<Record<string, unknown>>(gl, MASTER, first.id);
    expect(e).toMatchObject({ provider: 'bed', status: 200 });
    expectNoCredential(JSON.stringify(e));
    expectNoCredential(gl.logs());
  });

  it('credentials are renewed in the last part of their life, used until then, and fetched again once expired', async () => {
    // Start from fresh credentials: whatever the earlier calls left is let expire first.
    const held = aws.issued.filter((k) => k.via === 'container').at(-1)!;
    await sleepUntil(held.expiresAt + 200);
    bedrock.reset();
    aws.reset();
    await hello(gl);
    const current = aws.keysFor(keyId(bedrock.requests.at(-1)!))!;
    expect(current.via).toBe('container');
    // Inside the renewal window (their last half here), still valid: this call goes with them, new ones are fetched beside it.
    await sleepUntil(current.expiresAt - 2_500);
    const before = aws.issued.length;
    await hello(gl);
    expect(keyId(bedrock.requests.at(-1)!)).toBe(current.accessKeyId);
    await until(() => aws.issued.length > before, 'renewed credentials');
    const renewed = aws.issued.at(-1)!;
    await new Promise((r) => setTimeout(r, 300));
    await hello(gl);
    expect(keyId(bedrock.requests.at(-1)!)).toBe(renewed.accessKeyId);
    // Left to expire unused: the next call waits for fresh ones rather than sending expired keys.
    await sleepUntil(renewed.expiresAt + 200);
    await hello(gl);
    const last = bedrock.requests.at(-1)!;
    expect(last.verified).toBe(true);
    expect(aws.keysFor(keyId(last))!.expiresAt).toBeGreaterThan(renewed.expiresAt);
    expect(bedrock.requests.some((x) => !x.verified)).toBe(false);
  }, 40_000);

  it('a signature refusal quotes the temporary session token, as AWS does: scrubbed from the answer and the record', async () => {
    refusing.reset();
    const err = await anthropic(gl).messages.create({ model: 'claude-refused', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const token = refusing.requests[0]!.headers['x-amz-security-token'] as string;
    expect(token).toMatch(/^IQoJb3JpZ2luX2VjEFAKE/);
    expect((err as Error).message).toContain('Canonical String');
    expect((err as Error).message).not.toContain(token);
    const id = (err as InstanceType<typeof Anthropic.APIError>).headers?.get('x-gatelog-request-id');
    const e = await recordedCall<Record<string, unknown>>(gl, MASTER, id!);
    const all = JSON.stringify(e);
    expect(all).toContain('x-amz-security-token:[redacted]');
    for (const k of aws.issued) for (const secret of [k.secretAccessKey, k.sessionToken]) expect(all).not.toContain(secret);
  });

  it('aws_role_arn: the role is assumed through STS with the chain’s credentials, and its keys sign the call', async () => {
    bedrock.reset();
    aws.reset();
    const { text } = await hello(gl, 'claude-role');
    expect(text).toBe('Fake reply to: hello');
    const assume = aws.requests.find((x) => x.form['Action'] === 'AssumeRole')!;
    expect(assume.form).toMatchObject({ RoleArn: ROLE_ARN, RoleSessionName: 'gl-test' });
    const role = aws.keysFor(keyId(bedrock.requests.at(-1)!))!;
    expect((role as { via: string }).via).toBe(`assume-role:${ROLE_ARN}:gl-test`);
    expect(bedrock.requests.at(-1)!.verified).toBe(true);
  });

  it('a credential source that fails is a clean 401 naming the provider, in each client’s shape; it recovers after', async () => {
    // Let the cached credentials expire, then have the endpoint fail.
    const last = aws.issued.filter((k) => k.via === 'container').at(-1)!;
    await sleepUntil(last.expiresAt + 200);
    aws.behave({ status: 500 });
    bedrock.reset();
    const a = await anthropic(gl).messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((a as Error).message).toMatch(/provider bed: found no AWS credentials in the default chain/);
    const o = await openai(gl).chat.completions.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(o).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((o as Error).message).toMatch(/provider bed/);
    expect(bedrock.requests).toHaveLength(0);
    expect(gl.proc.exitCode).toBeNull();
    aws.reset();
    expect((await hello(gl)).text).toBe('Fake reply to: hello');
  }, 30_000);
});

describe('EKS IRSA: web identity token → STS AssumeRoleWithWebIdentity', () => {
  it('the token file is exchanged at STS (AWS_ENDPOINT_URL_STS) and the role’s keys sign the call', async () => {
    const tokenFile = join(secretsDir, 'web-identity-token');
    writeFileSync(tokenFile, aws.webIdentityToken);
    const gl = await start({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: ROLE_ARN, AWS_ROLE_SESSION_NAME: 'irsa-pod', AWS_ENDPOINT_URL_STS: aws.url });
    bedrock.reset();
    aws.reset();
    const { text, id } = await hello(gl);
    expect(text).toBe('Fake reply to: hello');
    const call = aws.requests.find((x) => x.form['Action'] === 'AssumeRoleWithWebIdentity')!;
    expect(call.form).toMatchObject({ RoleArn: ROLE_ARN, RoleSessionName: 'irsa-pod', WebIdentityToken: aws.webIdentityToken });
    const keys = aws.keysFor(keyId(bedrock.requests.at(-1)!))!;
    expect((keys as { via: string }).via).toBe('web-identity');
    expect(bedrock.requests.at(-1)!.verified).toBe(true);
    expectNoCredential(JSON.stringify(await recordedCall(gl, MASTER, id)));
    expectNoCredential(gl.logs());
  }, 90_000);
});

describe('nothing to find', () => {
  it('no keys, no source and instance metadata off: gatelog refuses to start, naming the provider and what to set', async () => {
    const err = await startGatelog({ bareEnv: true, env: POD, config: config(), timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/providers\.bed\.aws_access_key_id: no AWS credentials anywhere/);
  }, 90_000);
});

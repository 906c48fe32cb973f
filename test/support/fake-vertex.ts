// A fake Vertex AI (Claude publisher endpoints) and Google token endpoint for tests: node:http on
// 127.0.0.1, port 0. It writes a service account key file (a fresh RSA key) whose token_uri
// points at itself; the token endpoint verifies each JWT bearer assertion with that key's public
// half (RS256, iss/aud/scope/exp) before it issues an access token. rawPredict answers Anthropic
// JSON, streamRawPredict Anthropic SSE, count-tokens:rawPredict a count; a token it no longer
// accepts gets Google's 401; errors in Google's shape or Anthropic's. It is also a GCE / GKE
// metadata server (GCE_METADATA_HOST=host:port): the default service account's token and the
// project id, refused without `Metadata-Flavor: Google` as the real one refuses.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_ANTHROPIC_USAGE, contentBlocks, lastUserText, streamEvents } from './fake-anthropic.ts';
import { fakeControls, listenOnLoopback, type FakeControls } from './loopback.ts';

export const FAKE_PROJECT = 'fake-project-123';
export const SA_EMAIL = 'gatelog-test@fake-project-123.iam.gserviceaccount.com';

export interface FakeVertexBehaviour {
  /** Answer this status with Google's error shape (`google`) or Anthropic's. */
  error?: { status: number; google: boolean; message?: string };
  /** Answer with a tool_use block. */
  toolUse?: { name: string; input: Record<string, unknown> };
}

export interface VertexRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The bearer token was one the fake issued and still accepts. */
  authorized: boolean;
}

export type FakeVertex = FakeControls<FakeVertexBehaviour, VertexRequest> & {
  /** The service account key file (JSON) to configure as credentials_file. */
  credentialsFile: string;
  /** Assertions the token endpoint verified, and tokens it issued. */
  tokenExchanges: { claims: Record<string, unknown>; kid: unknown }[];
  /** Stop accepting every token issued so far (as a revoked or rotated token). */
  revokeTokens(): void;
  /** GCE_METADATA_HOST for this fake: 127.0.0.1:port. */
  metadataHost: string;
  /** Requests to the metadata server: path and Metadata-Flavor header. */
  metadataRequests: { path: string; flavor: string | undefined }[];
};

const b64url = (s: string): Buffer => Buffer.from(s, 'base64url');

/** The claims of an RS256 JWT whose signature `key` verifies, else null. */
function verifiedJwt(jwt: string, key: KeyObject): { header: Record<string, unknown>; claims: Record<string, unknown> } | null {
  const [h, p, sig] = jwt.split('.');
  if (!h || !p || !sig) return null;
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, b64url(sig))) return null;
  return { header: JSON.parse(b64url(h).toString('utf8')) as Record<string, unknown>, claims: JSON.parse(b64url(p).toString('utf8')) as Record<string, unknown> };
}

export async function startFakeVertex(): Promise<FakeVertex> {
  let behaviour: FakeVertexBehaviour = {};
  const requests: VertexRequest[] = [];
  const tokenExchanges: FakeVertex['tokenExchanges'] = [];
  const accepted = new Set<string>();
  const metadataRequests: FakeVertex['metadataRequests'] = [];
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let tokenUri = '';

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res));
  });

  const json = (res: ServerResponse, status: number, v: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };

  function token(raw: string, res: ServerResponse): void {
    const form = new URLSearchParams(raw);
    const v = form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' ? verifiedJwt(form.get('assertion') ?? '', publicKey) : null;
    const c = v?.claims;
    const now = Date.now() / 1000;
    if (!v || !c || v.header['alg'] !== 'RS256' || c['iss'] !== SA_EMAIL || c['aud'] !== tokenUri || c['scope'] !== 'https://www.googleapis.com/auth/cloud-platform' || typeof c['exp'] !== 'number' || c['exp'] < now) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    tokenExchanges.push({ claims: c, kid: v.header['kid'] });
    const access = `ya29.fake-access-token-${tokenExchanges.length}-${Math.random().toString(36).slice(2)}`;
    accepted.add(access);
    json(res, 200, { access_token: access, expires_in: 3599, token_type: 'Bearer' });
  }

  /** The metadata server: token for the default service account, project id; Metadata-Flavor required. */
  function metadata(url: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const flavor = headers['metadata-flavor'];
    metadataRequests.push({ path: url, flavor: typeof flavor === 'string' ? flavor : undefined });
    if (flavor !== 'Google') {
      res.writeHead(403, { 'content-type': 'text/html' });
      return void res.end('Missing Metadata-Flavor:Google header.');
    }
    if (url === '/computeMetadata/v1/project/project-id') {
      res.writeHead(200, { 'content-type': 'application/text', 'metadata-flavor': 'Google' });
      return void res.end(FAKE_PROJECT);
    }
    if (url !== '/computeMetadata/v1/instance/service-accounts/default/token') {
      res.writeHead(404, { 'content-type': 'text/html' });
      return void res.end('Not Found');
    }
    const access = `ya29.c.fake-metadata-token-${metadataRequests.length}-${Math.random().toString(36).slice(2)}`;
    accepted.add(access);
    json(res, 200, { access_token: access, expires_in: 3599, token_type: 'Bearer' });
  }

  function handle(url: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    if (url === '/token') return token(raw, res);
    if (url.startsWith('/computeMetadata/')) return metadata(url, headers, res);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // left empty: refused below
    }
    const bearer = /^Bearer (.+)$/.exec(headers['authorization'] ?? '')?.[1];
    const entry: VertexRequest = { path: url, headers, body, authorized: bearer !== undefined && accepted.has(bearer) };
    requests.push(entry);
    if (!entry.authorized) return json(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials. Expected OAuth 2 access token.', status: 'UNAUTHENTICATED' } });
    const m = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(url);
    if (!m || m[1] !== FAKE_PROJECT) return json(res, 404, { error: { code: 404, message: `no route ${url}`, status: 'NOT_FOUND' } });
    const b = behaviour;
    if (b.error) {
      const message = b.error.message ?? `fake error ${b.error.status}`;
      return json(res, b.error.status, b.error.google ? [{ error: { code: b.error.status, message, status: 'RESOURCE_EXHAUSTED' } }] : { type: 'error', error: { type: 'overloaded_error', message } });
    }
    const model = m[3]!;
    if (model === 'count-tokens') return json(res, 200, { input_tokens: 42, model_seen: body['model'] });
    if (body['anthropic_version'] !== 'vertex-2023-10-16' || 'model' in body) {
      return json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic_version: vertex-2023-10-16 is required and model is not allowed in the body' } });
    }
    const blocks = contentBlocks({ ...(b.toolUse ? { toolUse: b.toolUse } : {}) }, b.toolUse ? '' : `Fake reply to: ${lastUserText(body)}`);
    const stop = b.toolUse ? 'tool_use' : 'end_turn';
    if (m[4] === 'rawPredict') return json(res, 200, { id: 'msg_vrtx_1', type: 'message', role: 'assistant', model, content: blocks, stop_reason: stop, stop_sequence: null, usage: { ...FAKE_ANTHROPIC_USAGE } });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'x-goog-request-id': 'fake-vertex-stream' });
    for (const e of streamEvents(model, blocks, FAKE_ANTHROPIC_USAGE, stop, false, false)) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    res.end();
  }

  const listening = await listenOnLoopback(server);
  tokenUri = `${listening.url}/token`;
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-vertex-'));
  const credentialsFile = join(dir, 'service-account.json');
  writeFileSync(credentialsFile, JSON.stringify({
    type: 'service_account', project_id: FAKE_PROJECT, private_key_id: 'fake-key-id-1', client_email: SA_EMAIL, client_id: '1234567890',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: tokenUri,
  }));
  const keep = (b: FakeVertexBehaviour): void => {
    behaviour = b;
  };
  return {
    ...fakeControls(listening, requests, keep, {}),
    credentialsFile,
    tokenExchanges,
    revokeTokens() {
      accepted.clear();
    },
    metadataHost: listening.url.replace(/^http:\/\//, ''),
    metadataRequests,
  };
}
